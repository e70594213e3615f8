"""The ingest worker with in-memory stand-ins: stamping, counting, stopping, failing."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from pipeline.codec import Payload, RawMessage, RecordType
from pipeline.errors import SourceError
from pipeline.ingest import IngestResult, IngestWorker
from pipeline.ingest_cli import serve
from pipeline.producer import TickProducer, producer_config
from pipeline.sources import build_source
from pipeline.sources.base import Source
from pipeline.sources.replay import ReplaySource
from pipeline.sources.simulator import Simulator
from tickwatch.clock import SystemClock
from tickwatch.settings import IngestSettings, Settings
from tickwatch.telemetry.catalog import IngestMetrics

from .ingest_helpers import FakeKafka, FiniteSimulator

TOPICS = {RecordType.TRADE: "t", RecordType.QUOTE: "q", RecordType.BAR: "b"}
NOW = 1_800_000_000.0


class FrozenWallClock(SystemClock):
    """Wall time fixed at NOW; real monotonic time, so shutdown budgets still run out."""

    def time(self) -> float:
        return NOW


def worker_for(
    source: Source, registry: CollectorRegistry, duration_s: float = 0.0
) -> IngestWorker:
    metrics = IngestMetrics(registry)
    producer = TickProducer(FakeKafka, {}, TOPICS, metrics, "simulator")
    return IngestWorker(
        source,
        producer,
        metrics,
        flush_timeout_s=1.0,
        duration_s=duration_s,
        clock=FrozenWallClock(),
    )


def fake_kafka(worker: IngestWorker) -> FakeKafka:
    kafka = worker._producer._producer
    assert isinstance(kafka, FakeKafka)
    return kafka


def test_every_record_is_produced_keyed_stamped_and_counted() -> None:
    registry = CollectorRegistry()
    source = FiniteSimulator(5_000, rate=10_000, anomalies="malformed:0.01")
    worker = worker_for(source, registry)
    result = asyncio.run(worker.run())
    assert result == IngestResult(5_000, 5_000, 5_000, 0, 0)
    messages = fake_kafka(worker).messages
    for item, (topic, value, key) in zip(source.sent, messages, strict=True):
        assert topic == TOPICS[item.kind]
        if isinstance(item, RawMessage):
            assert (key, value) == (item.key, item.value)
            continue
        body = orjson.loads(value)
        assert key == item.symbol.encode() == body["symbol"].encode()
        assert (body["ts"], body["recv_ts"]) == (item.ts, int(NOW * 1e6))
    produced = sum(
        registry.get_sample_value(
            "tickwatch_ingest_records_total", {"source": "simulator", "type": t}
        )
        or 0
        for t in ("trade", "quote", "bar")
    )
    assert produced == 5_000
    assert (
        registry.get_sample_value("tickwatch_source_messages_total", {"source": "simulator"})
        == 5_000
    )
    assert (registry.get_sample_value("tickwatch_ingest_delivery_latency_seconds_count") or 0) > 0
    assert source.closed


def test_duration_stops_the_run_and_flushes() -> None:
    registry = CollectorRegistry()
    sim = Simulator(IngestSettings(rate=50_000))  # real clock: the duration is loop time
    worker = worker_for(sim, registry, duration_s=0.3)
    result = asyncio.run(worker.run())
    assert result.read > 0
    assert result.read == result.delivered == len(fake_kafka(worker).messages)


def test_request_stop_ends_a_source_that_never_ends() -> None:
    async def scenario() -> IngestResult:
        worker = worker_for(Simulator(IngestSettings(rate=1_000)), CollectorRegistry())
        asyncio.get_running_loop().call_later(0.2, worker.request_stop)
        return await worker.run()

    result = asyncio.run(scenario())
    assert result.clean


class _FailingSource:
    name = "replay"

    def __init__(self) -> None:
        self.closed = False

    async def batches(self) -> AsyncIterator[Sequence[Payload]]:
        sim = FiniteSimulator(100, rate=1_000)
        async for batch in sim.batches():
            yield batch
        raise SourceError("feed broke", recoverable=False)

    async def aclose(self) -> None:
        self.closed = True


def test_a_source_error_still_flushes_what_was_read() -> None:
    source = _FailingSource()
    worker = worker_for(source, CollectorRegistry())
    with pytest.raises(SourceError, match="feed broke"):
        asyncio.run(worker.run())
    assert len(fake_kafka(worker).messages) == 100
    assert source.closed


def test_delivery_failures_are_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A real librdkafka producer pointed at a closed port: every message times out."""
    from confluent_kafka import Producer
    from loguru import logger

    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    config = producer_config(
        Settings(_env_file=None), "127.0.0.1:1", **{"message.timeout.ms": 300, "log_level": 0}
    )
    producer = TickProducer(Producer, config, TOPICS, metrics, "simulator")
    lines: list[str] = []
    handler = logger.add(lines.append, level="ERROR", format="{message}")
    try:
        source = FiniteSimulator(10, rate=100)
        items = asyncio.run(_first_batch(source))
        assert producer.send(items, 1) == len(items)
        remaining = producer.flush(10.0)
    finally:
        logger.remove(handler)
    assert remaining == 0
    assert producer.failed == len(items) and producer.delivered == 0
    errors = registry.get_sample_value(
        "tickwatch_ingest_produce_errors_total", {"source": "simulator", "reason": "_msg_timed_out"}
    )
    assert errors == len(items)
    assert any("delivery to" in line and "key=b'" in line for line in lines)


async def _first_batch(source: FiniteSimulator) -> list[Payload]:
    async for batch in source.batches():
        return list(batch)
    return []


def test_build_source_picks_by_setting(tmp_path: object) -> None:
    assert isinstance(build_source(Settings(_env_file=None)), Simulator)
    replay_file = __import__("pathlib").Path(str(tmp_path)) / "t.jsonl"
    replay_file.write_text("")
    settings = Settings(
        _env_file=None, ingest=IngestSettings(source="replay", replay_path=replay_file)
    )
    assert isinstance(build_source(settings), ReplaySource)


class _FullKafka(FakeKafka):
    """A broker that is away: the local queue is full and never drains."""

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        raise BufferError("queue full")

    def poll(self, timeout: float) -> int:
        time.sleep(timeout)
        return 0

    def __len__(self) -> int:
        return 1

    def flush(self, timeout: float) -> int:
        return 1


def test_stop_with_a_full_queue_gives_up_after_the_flush_timeout_and_says_so() -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    producer = TickProducer(_FullKafka, {}, TOPICS, metrics, "simulator")
    source = FiniteSimulator(50, rate=1_000)
    worker = IngestWorker(source, producer, metrics, flush_timeout_s=0.2, clock=FrozenWallClock())

    sigterm = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM))
    sigterm.start()  # arrives while send() is blocked on the full queue
    result = asyncio.run(serve(worker))
    assert result.enqueued == 0 and result.failed == result.read > 0
    assert result.undelivered == 1 and not result.clean
    shutdown = {"source": "simulator", "reason": "shutdown"}
    assert (
        registry.get_sample_value("tickwatch_ingest_produce_errors_total", shutdown) == result.read
    )
    assert producer.queue_full_waits > 0


def test_run_ingest_fails_fast_on_bad_settings_and_missing_kafka(tmp_path: Path) -> None:
    from pipeline.ingest_cli import EXIT_CONFIG, run_ingest
    from tickwatch.settings import KafkaSettings, StackSettings, TelemetrySettings

    def settings(anomalies: str, bootstrap: str) -> Settings:
        return Settings(
            _env_file=None,
            stack=StackSettings(state_dir=tmp_path),
            telemetry=TelemetrySettings(enabled=False),
            ingest=IngestSettings(metrics_port=0, anomalies=anomalies),
            kafka=KafkaSettings(bootstrap=bootstrap),
        )

    assert run_ingest(settings("", "")) == EXIT_CONFIG  # no bootstrap and no local stack
    assert run_ingest(settings("boom:1", "127.0.0.1:1")) == EXIT_CONFIG  # before any connect
