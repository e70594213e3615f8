"""``tickwatch load``: the load worker's entry point.

Order (as in snuba's CLI modules): allocators (:mod:`pipeline.load.allocator`, before any
thread) -> logging -> telemetry -> fail fast if ClickHouse or Kafka is unreachable -> build the
worker -> SIGTERM/SIGINT handler -> run -> drain and close. Exit codes: 0 after a graceful
stop, 1 on a fatal error, 2 when a service is unreachable at start.

``python -m pipeline.load_cli`` runs the same with settings from the environment
(``TICKWATCH_...``), which is how tests start it as a process they can kill.
"""

from __future__ import annotations

import gc
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from confluent_kafka import Consumer, Producer
from loguru import logger

from pipeline.codec import ValidationRules
from pipeline.dlq import DeadLetterQueue
from pipeline.errors import FatalError
from pipeline.load import allocator as allocators
from pipeline.load.decode import MessageDecoder
from pipeline.load.events import PipelineEvents
from pipeline.load.memory import budget, consumer_config
from pipeline.load.ranges import KafkaRangeReader
from pipeline.load.shards import build_writer, shard_clients, verify_layout
from pipeline.load.worker import LoadWorker, check_eager_rebalance, poll_loop_bound_s
from pipeline.topics import record_types
from tickwatch import dedup_window
from tickwatch.clients import clickhouse_client, kafka_config
from tickwatch.clock import Clock, SystemClock
from tickwatch.kafka_access import KafkaAccessError, verify_kafka_access
from tickwatch.settings import LoadSettings, Settings, load_settings
from tickwatch.telemetry import LoadMetrics, Telemetry, configure_logging

if TYPE_CHECKING:
    from tickwatch.endpoints import LocalAddresses


EXIT_FATAL = 1
EXIT_UNREACHABLE = 2
STARTUP_TIMEOUT_S = 10.0
CONSUMER_CONFIG: dict[str, str | int | bool] = {
    "client.id": "tickwatch-load",
    "enable.auto.commit": False,  # offsets are committed by the worker, after the insert
    "enable.auto.offset.store": False,
    # never load a record of a Kafka transaction that did not commit (the replay's, the
    # backfill's): librdkafka's default, stated because exactly once depends on it
    "isolation.level": "read_committed",
}  # librdkafka's prefetch memory: pipeline.load.memory.consumer_config (load.buffer_budget_mb)
DLQ_PRODUCER_CONFIG: dict[str, str | int | bool] = {
    "client.id": "tickwatch-load-dlq",
    "enable.idempotence": True,
    "linger.ms": 5,
}


def build_worker(
    settings: Settings,
    bootstrap: str,
    client: Client,
    metrics: LoadMetrics,
    clock: Clock | None = None,
    *,
    shard_clients: list[Client] | None = None,
    insert_client: Client | None = None,
) -> LoadWorker:
    """A ready-to-run worker: its consumer (manual commits), DLQ producer and ClickHouse writer.

    ``insert_client`` (default ``client``) is the single node's client the writer inserts with:
    with ``load.inserts_in_flight`` > 0 the inserts run on the insert thread, and
    :func:`run_load` gives it a client of its own (:mod:`pipeline.load.inflight`)."""
    clock = clock or SystemClock()
    check_poll_interval(settings)
    session_ms = settings.load.session_timeout_ms
    group: dict[str, str | int | bool] = {
        "group.id": settings.kafka.consumer_group,
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": min(3000, session_ms // 3),
        "max.poll.interval.ms": settings.load.max_poll_interval_ms,
        "auto.offset.reset": settings.load.auto_offset_reset,  # a reset is an event: events.py
    }
    prefetch = consumer_config(budget(settings.load))  # raises when too small for one batch
    fetch = fetch_config(settings.load)
    conf = kafka_config(settings.kafka, bootstrap, **CONSUMER_CONFIG, **prefetch, **fetch, **group)
    check_eager_rebalance(conf)  # the groups' exactly-once argument needs eager revokes
    consumer = Consumer(conf)
    producer = Producer(kafka_config(settings.kafka, bootstrap, **DLQ_PRODUCER_CONFIG))
    kinds = record_types(settings.kafka)
    rules = ValidationRules.from_settings(settings.load)
    # Reads the ranges of a recorded group's members other consumers own (pipeline.load.ranges):
    # assign() only, never in the load group (its own group.id, which it never joins or commits).
    ranges = KafkaRangeReader(
        kafka_config(
            settings.kafka, bootstrap,
            **{**CONSUMER_CONFIG, "client.id": "tickwatch-load-ranges",
               "group.id": f"{settings.kafka.consumer_group}.ranges"},
        ),
        clock,
    )  # fmt: skip
    shards = len(settings.clickhouse.shard_url_list) if settings.clickhouse.cluster else 1
    return LoadWorker(
        consumer=consumer,
        writer=build_writer(
            settings.clickhouse,
            insert_client or client,
            clock,
            metrics,
            shard_clients,
            max_batch_rows=settings.load.batch_max_rows,
        ),
        dlq=DeadLetterQueue(producer, settings.kafka.topic_dlq, metrics, clock),
        kinds=kinds,
        decoder=MessageDecoder(kinds, rules, clock, metrics, settings.load.dlq_max_payload_bytes),
        settings=settings.load,
        metrics=metrics,
        clock=clock,
        events=PipelineEvents(
            client,
            settings.clickhouse,
            metrics=metrics,
            clock=clock,
            policy=settings.load.auto_offset_reset,
        ),
        ranges=ranges,
        shards=shards,
    )


def fetch_config(load: LoadSettings) -> dict[str, str | int | bool]:
    """How long the broker may hold a fetch for more data (``load.fetch_min_bytes`` /
    ``load.fetch_wait_max_ms``): fewer, fuller fetches when the feed is quiet (issue 18)."""
    return {"fetch.min.bytes": load.fetch_min_bytes, "fetch.wait.max.ms": load.fetch_wait_max_ms}


def check_poll_interval(settings: Settings) -> None:
    """Raise :class:`FatalError` naming the keys if one poll loop could outlast
    ``load.max_poll_interval_ms`` (the member would be thrown out of its group)."""
    bound = poll_loop_bound_s(settings.load, settings.clickhouse.connect_timeout_s)
    limit = settings.load.max_poll_interval_ms / 1000
    if bound >= limit:
        raise FatalError(
            f"one poll loop may block {bound:.0f} s (load.flush_budget_s + 2 inserts of "
            f"2 x clickhouse.connect_timeout_s + load.insert_timeout_s — with "
            f"load.inserts_in_flight > 0 instead a revoke's wait of load.flush_budget_s + 2 x "
            f"load.kafka_timeout_s —, + 4 x "
            f"load.kafka_timeout_s for the commits, the DLQ flush and a watermark lookup, "
            f"+ one query per topic "
            f"on assignment), "
            f"not below load.max_poll_interval_ms = {settings.load.max_poll_interval_ms}"
        )


def run_load(settings: Settings, local: LocalAddresses | None = None) -> int:
    """Run the load worker until SIGTERM/SIGINT; return the process exit code.

    ``local`` is the local stack's addresses, used where the settings leave one empty.
    """
    from tickwatch.endpoints import EndpointError, resolve_endpoints

    try:  # first: an arena cap holds only for threads not yet started (logging, clients)
        chosen = allocators.configure(settings.load)
    except FatalError as exc:
        configure_logging("load", settings.telemetry)
        logger.error("load worker cannot start: {}", exc)
        return EXIT_FATAL
    configure_logging("load", settings.telemetry)
    logger.info(
        "allocators: Arrow pool {}, malloc arenas {}", chosen.arrow_pool,
        chosen.arena_max if chosen.arena_max_applied else "glibc's default",
    )  # fmt: skip
    try:
        endpoints = resolve_endpoints(settings, require=("kafka", "clickhouse"), local=local)
    except EndpointError as exc:
        logger.error("{}", exc)
        return EXIT_UNREACHABLE
    telemetry = Telemetry.start("load", settings, endpoints.clickhouse_url)
    try:
        client = _reach_services(settings, endpoints.kafka_bootstrap, endpoints.clickhouse_url)
        if client is None:
            return EXIT_UNREACHABLE
        shards = _check_clickhouse_layout(settings, client)
        metrics = telemetry.load_metrics
        bootstrap = endpoints.kafka_bootstrap
        inserter = _insert_client(settings, endpoints.clickhouse_url)
        worker = build_worker(
            settings, bootstrap, client, metrics, shard_clients=shards, insert_client=inserter
        )
        stop = _stop_on_signals()
        _tune_gc()
        logger.info("load worker started (group {})", settings.kafka.consumer_group)
        worker.run(stop, settings.load.shutdown_timeout_s)
        return 0
    except FatalError as exc:
        logger.error("load worker stopped: {}", exc)
        return EXIT_FATAL
    finally:
        telemetry.close()


def _check_clickhouse_layout(settings: Settings, client: Client) -> list[Client] | None:
    """On a cluster, the shard clients once the layout checks out; every node's (or the single
    node's) deduplication window must cover a replay. Raises :class:`FatalError` if not."""
    ch = settings.clickhouse
    clients = shard_clients(ch) if ch.cluster else None
    if clients is not None:
        verify_layout(ch, clients)
    try:
        for node in clients or [client]:
            dedup_window.verify(node, settings, max(1, len(ch.shard_url_list)))
    except dedup_window.DedupWindowError as exc:
        raise FatalError(str(exc)) from exc
    return clients


def _reach_services(settings: Settings, bootstrap: str, url: str) -> Client | None:
    """A ClickHouse client, once both services answered; None (logged) if one did not."""
    try:
        client = clickhouse_client(
            settings.clickhouse.as_role("load"), url, timeout_s=settings.load.insert_timeout_s
        )
    except (ClickHouseError, OSError) as exc:
        logger.error("ClickHouse at {} is unreachable: {}", url, exc)
        return None
    try:  # a refused login or TLS handshake stops here, naming the setting, not retried
        verify_kafka_access(settings.kafka, bootstrap, STARTUP_TIMEOUT_S)
    except KafkaAccessError as exc:
        logger.error("load worker cannot start: {}", exc)
        client.close()
        return None
    return client


def _insert_client(settings: Settings, url: str) -> Client | None:
    """The insert thread's own client (``load.inserts_in_flight`` > 0, single node; the shard
    clients of a cluster serve only the writer already), or None: the inserts use the worker's."""
    if not settings.load.inserts_in_flight or settings.clickhouse.cluster:
        return None
    return clickhouse_client(
        settings.clickhouse.as_role("load"), url, timeout_s=settings.load.insert_timeout_s
    )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal {} received: draining", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _tune_gc() -> None:
    """Collect the young generation less often. Pending batches hold ~10^6 small row objects that
    are never cyclic garbage, and the default threshold (700) made the collector walk them over
    and over: measured 69.9k -> 80.2k rows/s on 2M trades (bench/README.md)."""
    gc.freeze()  # start-up objects (modules, settings, clients) are never collected
    gc.set_threshold(50_000, 20, 100)


def main() -> None:
    sys.exit(run_load(load_settings()))


if __name__ == "__main__":
    main()
