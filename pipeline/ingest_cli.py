"""``tickwatch ingest``: the ingest worker's entry point.

Order: logging → endpoints → telemetry (``/metrics`` on ``ingest.metrics_port``) → source (bad
settings stop here, before any network) → fail fast if Kafka does not answer, creating missing
topics → a live source reads back the trade keys Kafka got after its last checkpoint → producer
(a replay's transactional one: fence the previous run, read its committed position back)
→ SIGTERM/SIGINT handlers → run → flush (→ final checkpoint) → close telemetry.

Exit codes: 0 clean (everything read was delivered), 1 records failed or a source/producer
error stopped the run, 2 configuration or connectivity problem before anything was read.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING

from confluent_kafka import KafkaException, Producer
from loguru import logger

from pipeline.errors import PipelineError
from pipeline.ingest import IngestResult, IngestWorker
from pipeline.ingest_hold import LowRateHold
from pipeline.producer import TickProducer, producer_config
from pipeline.sources import POLLING_SOURCES, build_source
from pipeline.sources.base import Source
from pipeline.sources.checkpoint import RecoverableSource
from pipeline.sources.replay import ReplaySource
from pipeline.sources.replay_transactions import attach, replay_transactions
from pipeline.topics import record_topics
from tickwatch.clock import SYSTEM_CLOCK
from tickwatch.kafka_access import KafkaAccessError, verify_kafka_access
from tickwatch.settings import Settings
from tickwatch.telemetry import Telemetry, configure_logging
from tickwatch.telemetry.catalog import IngestMetrics
from tickwatch.topics import TopicAdminError, create_pipeline_topics

if TYPE_CHECKING:
    from tickwatch.endpoints import LocalAddresses


EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2
KAFKA_CHECK_TIMEOUT_S = 10.0


def run_ingest(settings: Settings, local: LocalAddresses | None = None) -> int:
    """Run the ingest worker until SIGTERM/SIGINT, ``duration_s`` or the end of the source.

    ``local`` is the local stack's addresses, used where the settings leave one empty.
    """
    from tickwatch.endpoints import EndpointError, resolve_endpoints

    configure_logging("ingest", settings.telemetry)
    try:
        endpoints = resolve_endpoints(settings, require=("kafka",), local=local)
    except EndpointError as exc:
        logger.error("ingest cannot start: {}", exc)
        return EXIT_CONFIG
    telemetry = Telemetry.start("ingest", settings, endpoints.clickhouse_url)
    try:
        return _run(settings, endpoints.kafka_bootstrap, telemetry)
    finally:
        telemetry.close()


def ensure_topics(settings: Settings, bootstrap: str) -> bool:
    """Create the pipeline topics that are missing; False (logged) when Kafka does not answer
    or refuses the security settings (the message names the setting)."""
    try:
        verify_kafka_access(settings.kafka, bootstrap, KAFKA_CHECK_TIMEOUT_S)
    except KafkaAccessError as exc:
        logger.error("ingest cannot start: {}", exc)
        return False
    try:
        created = create_pipeline_topics(settings.kafka, bootstrap, timeout_s=KAFKA_CHECK_TIMEOUT_S)
    except TopicAdminError as exc:
        logger.error("ingest cannot start: Kafka at {}: {}", bootstrap, exc)
        return False
    if created:
        logger.info("created Kafka topics {}", created)
    return True


def _run(settings: Settings, bootstrap: str, telemetry: Telemetry) -> int:
    """Source (bad settings fail here, before any network) → topics → producer → worker."""
    metrics = telemetry.ingest_metrics
    try:
        source = build_source(settings, metrics)
    except (ValueError, PipelineError) as exc:
        logger.error("ingest cannot start: {}", exc)
        return EXIT_CONFIG
    if settings.ingest.source in POLLING_SOURCES:
        # httpx logs every request at INFO: one line per poll and symbol would drown the
        # worker's own log; the poller logs its failures itself, naming the request.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    if not ensure_topics(settings, bootstrap) or not recover(source, settings, bootstrap):
        return EXIT_CONFIG
    try:
        producer = build_producer(settings, bootstrap, source, metrics)
    except PipelineError as exc:
        logger.error("ingest cannot start: {}", exc)
        return EXIT_CONFIG
    telemetry.set_health(lambda: producer.fatal is None)
    worker = IngestWorker(
        source,
        producer,
        metrics,
        flush_timeout_s=settings.ingest.flush_timeout_s,
        duration_s=settings.ingest.duration_s,
        count_source_messages=source.name in ("simulator", "replay"),
        checkpoint_interval_s=settings.ingest.checkpoint_interval_s,
        hold=low_rate_hold(settings, source),
    )
    logger.info("ingest started: source={} kafka={}", source.name, bootstrap)
    try:
        result = asyncio.run(serve(worker))
    except PipelineError as exc:
        logger.error("ingest stopped: {}", exc)
        return EXIT_FAILED
    return EXIT_OK if result.failed == 0 and result.undelivered == 0 else EXIT_FAILED


def build_producer(
    settings: Settings, bootstrap: str, source: Source, metrics: IngestMetrics
) -> TickProducer:
    """The ingest producer; for a replay with ``ingest.replay_transactions`` a transactional one
    whose transactions also carry the replay's position (the position is read back here, after
    ``init_transactions`` aborted what a killed run left open). Raises CheckpointError."""
    config = producer_config(settings, bootstrap) | {"logger": logging.getLogger("librdkafka")}
    topics = record_topics(settings.kafka)
    path = settings.ingest.replay_path
    if not isinstance(source, ReplaySource) or not transactional(settings, source) or not path:
        return TickProducer(Producer, config, topics, metrics, source.name)
    transactions = replay_transactions(settings, bootstrap)
    producer = TickProducer(transactions.producer_factory, config, topics, metrics, source.name)
    attach(source, transactions, path)
    return producer


def transactional(settings: Settings, source: Source) -> bool:
    """A replay whose records and position commit in Kafka transactions."""
    ingest = settings.ingest
    return (
        isinstance(source, ReplaySource) and ingest.replay_transactions and bool(ingest.replay_path)
    )


def low_rate_hold(settings: Settings, source: Source) -> LowRateHold | None:
    """The low-rate hold of ``ingest.hold_below_rate`` / ``hold_ms``; none for a transactional
    replay: its source commits the open transaction itself before a long pause, with the
    position of every read it handed out, so a read still held would be claimed by a commit
    that does not carry it (lost after a kill -9 there)."""
    ingest = settings.ingest
    if transactional(settings, source):
        return None
    return LowRateHold(
        ingest.hold_below_rate, ingest.hold_ms / 1000, ingest.queue_max_messages, SYSTEM_CLOCK
    )


def recover(source: Source, settings: Settings, bootstrap: str) -> bool:
    """Let a live source read back the trade keys Kafka got after its last checkpoint.

    False (logged) when Kafka does not answer: starting without them could duplicate trades.
    """
    window_s = settings.ingest.dedup_recover_s
    if window_s <= 0 or not isinstance(source, RecoverableSource):
        return True
    try:
        source.recover(settings.kafka, bootstrap, window_s)
    except KafkaException as exc:
        logger.error("ingest cannot start: reading trade keys back from Kafka failed: {}", exc)
        return False
    return True


async def serve(worker: IngestWorker) -> IngestResult:
    """Run ``worker`` with SIGTERM and SIGINT asking it to stop and flush.

    Plain ``signal.signal`` handlers (not the event loop's) so that a signal arriving while a
    send is blocked on a full producer queue is seen by that send too.
    """
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda *_: worker.request_stop_from_signal(loop))
    try:
        return await worker.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
