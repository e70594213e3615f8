"""The low-rate hold on a manual clock: alone (rate window, hold time, pass-through, bounds) and
in the ingest worker (end of source, stop, wake-up when due, checkpoints)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from prometheus_client import CollectorRegistry

from pipeline.codec import Payload, RawMessage, RecordType
from pipeline.ingest import IngestResult, IngestWorker
from pipeline.ingest_hold import RATE_WINDOW_S, HeldRead, LowRateHold
from pipeline.producer import TickProducer
from tickwatch.clock import ManualClock
from tickwatch.settings import ConfigError, load_settings
from tickwatch.telemetry.catalog import IngestMetrics

from .ingest_helpers import FakeKafka

TOPICS = {RecordType.TRADE: "t", RecordType.QUOTE: "q", RecordType.BAR: "b"}


def read(n: int, recv_ts: int = 0) -> HeldRead:
    return HeldRead([RawMessage(RecordType.TRADE, b"k", b"v")] * n, recv_ts)


def hold(clock: ManualClock, below: float = 250.0, hold_s: float = 0.25) -> LowRateHold:
    return LowRateHold(below, hold_s, max_records=1_000, clock=clock)


def test_quiet_reads_are_kept_until_the_oldest_is_hold_s_old() -> None:
    clock = ManualClock()
    h = hold(clock)
    first, second, third = read(20, 1), read(20, 2), read(20, 3)
    assert h.offer(first, queued=0) == []
    assert h.due_in() == 0.25
    clock.advance(0.1)
    assert h.offer(second, queued=0) == []
    assert h.held_records == 40
    clock.advance(0.1)
    assert h.take_due() == []  # 0.2 s: not due yet
    clock.advance(0.06)
    assert h.take_due() == [first, second]  # in order, each with its own recv_ts
    assert h.held_records == 0 and h.due_in() is None
    clock.advance(0.1)
    assert h.offer(third, queued=0) == []  # the next hold starts at the next read
    assert h.due_in() == pytest.approx(0.25)


def test_a_read_arriving_after_the_deadline_goes_out_with_the_kept_ones() -> None:
    clock = ManualClock()
    h = hold(clock)
    first, late = read(10), read(10)
    h.offer(first, queued=0)
    clock.advance(0.3)
    assert h.offer(late, queued=0) == [first, late]


def test_at_or_above_the_rate_each_read_passes_at_once_behind_the_kept_ones() -> None:
    clock = ManualClock()
    h = hold(clock, below=250.0)
    kept = read(100)
    assert h.offer(kept, queued=0) == []  # 100 records in the window: 100/s
    clock.advance(0.02)
    burst = read(150)  # 250 in the window: at the rate
    assert h.offer(burst, queued=0) == [kept, burst]
    clock.advance(0.02)
    following = read(20)
    assert h.offer(following, queued=0) == [following]
    assert h.held_records == 0


def test_the_rate_forgets_reads_older_than_the_window() -> None:
    clock = ManualClock()
    h = hold(clock, below=250.0)
    assert h.offer(read(300), queued=0) != []  # 300/s: passes
    clock.advance(RATE_WINDOW_S - 0.01)
    assert h.offer(read(1), queued=0) != []  # still in the window: 301/s passes
    clock.advance(0.01)
    quiet = read(20)
    assert h.offer(quiet, queued=0) == []  # the burst has left the window: held again


def test_held_records_count_against_the_producer_queue_bound() -> None:
    clock = ManualClock()
    h = LowRateHold(250.0, 0.25, max_records=100, clock=clock)
    first, second = read(30), read(30)
    assert h.offer(first, queued=30) == []  # 30 held + 30 queued
    assert h.offer(second, queued=50) == [first, second]  # 60 held + 50 queued > 100


def test_take_hands_over_everything_kept_for_a_stop_or_a_checkpoint() -> None:
    clock = ManualClock()
    h = hold(clock)
    a, b = read(5), read(5)
    h.offer(a, queued=0)
    h.offer(b, queued=0)
    assert h.take() == [a, b]
    assert h.take() == []


def test_off_when_the_rate_or_the_hold_time_is_zero() -> None:
    clock = ManualClock()
    for h in (hold(clock, below=0.0), hold(clock, hold_s=0.0)):
        one = read(1)
        assert not h.enabled
        assert h.offer(one, queued=0) == [one]
        assert h.due_in() is None


# --- the ingest worker with the hold, on in-memory stand-ins ---------------------------------


class ScriptedSource:
    """Yields ``reads`` (advancing ``clock`` by ``gap_s`` before each after the first), then
    stays quiet until closed; remembers what the fake Kafka held each time it was resumed."""

    name = "simulator"

    def __init__(
        self, reads: list[list[Payload]], clock: ManualClock, gap_s: float, *, quiet: bool
    ) -> None:
        self._reads, self._clock, self._gap_s, self._quiet = reads, clock, gap_s, quiet
        self.kafka: FakeKafka | None = None
        self.in_kafka_on_resume: list[int] = []
        self.checkpoints: list[int] = []
        self._closed = asyncio.Event()

    async def batches(self) -> AsyncIterator[Sequence[Payload]]:
        for number, items in enumerate(self._reads):
            if number:
                self._clock.advance(self._gap_s)
            yield items
            self.in_kafka_on_resume.append(self._in_kafka())
        if self._quiet:
            await self._closed.wait()

    def _in_kafka(self) -> int:
        assert self.kafka is not None
        return len(self.kafka.messages) + len(self.kafka.pending)

    async def aclose(self) -> None:
        self._closed.set()


class CheckpointedScript(ScriptedSource):
    def checkpoint(self) -> None:
        """Remember how many records Kafka had acknowledged when the worker checkpointed."""
        assert self.kafka is not None
        self.checkpoints.append(len(self.kafka.messages))


def trades(n: int) -> list[Payload]:
    return [RawMessage(RecordType.TRADE, b"AAA", b"x%d" % i) for i in range(n)]


def hold_worker(
    source: ScriptedSource,
    clock: ManualClock,
    registry: CollectorRegistry,
    *,
    below: float = 250.0,
    hold_s: float = 60.0,
    checkpoint_interval_s: float = 1.0,
) -> IngestWorker:
    metrics = IngestMetrics(registry)
    producer = TickProducer(FakeKafka, {}, TOPICS, metrics, "simulator", clock=clock)
    worker = IngestWorker(
        source,
        producer,
        metrics,
        flush_timeout_s=1.0,
        clock=clock,
        checkpoint_interval_s=checkpoint_interval_s,
        hold=LowRateHold(below, hold_s, 50_000, clock),
    )
    kafka = producer._producer
    assert isinstance(kafka, FakeKafka)
    source.kafka = kafka
    return worker


def test_a_finite_quiet_source_ends_with_every_held_record_produced() -> None:
    clock, registry = ManualClock(), CollectorRegistry()
    source = ScriptedSource([trades(10)] * 5, clock, 0.1, quiet=False)
    worker = hold_worker(source, clock, registry)
    result = asyncio.run(worker.run())
    assert source.in_kafka_on_resume == [0, 0, 0, 0, 0]  # 50 records a second: all kept
    assert result == IngestResult(50, 50, 50, 0, 0)
    assert registry.get_sample_value("tickwatch_ingest_held_records") == 0
    produced = registry.get_sample_value(
        "tickwatch_ingest_records_total", {"source": "simulator", "type": "trade"}
    )
    assert produced == 50
    assert registry.get_sample_value("tickwatch_source_messages_total", {"source": "simulator"})


def test_a_graceful_stop_produces_the_held_records() -> None:
    clock, registry = ManualClock(), CollectorRegistry()
    source = ScriptedSource([trades(10), trades(10)], clock, 0.1, quiet=True)
    worker = hold_worker(source, clock, registry)

    async def scenario() -> IngestResult:
        run = asyncio.ensure_future(worker.run())
        while len(source.in_kafka_on_resume) < 2:  # both reads handed over, then quiet
            await asyncio.sleep(0.01)
        assert registry.get_sample_value("tickwatch_ingest_held_records") == 20
        worker.request_stop()
        return await run

    result = asyncio.run(scenario())
    assert source.kafka is not None and len(source.kafka.messages) == 20
    assert result == IngestResult(20, 20, 20, 0, 0)


def test_kept_reads_go_out_once_due_while_the_source_is_quiet() -> None:
    clock, registry = ManualClock(), CollectorRegistry()
    source = ScriptedSource([trades(10)], clock, 0.1, quiet=True)
    worker = hold_worker(source, clock, registry, hold_s=0.25)

    async def scenario() -> int:
        run = asyncio.ensure_future(worker.run())
        while not source.in_kafka_on_resume:
            await asyncio.sleep(0.01)
        clock.advance(0.25)  # the worker wakes for the due reads without a new read
        assert source.kafka is not None
        for _ in range(500):  # bounded: the worker's wait is at most the hold or 0.5 s
            if source.kafka.messages:
                break
            await asyncio.sleep(0.01)
        in_kafka = len(source.kafka.messages)
        worker.request_stop()
        await run
        return in_kafka

    assert asyncio.run(scenario()) == 10


def test_at_or_above_the_rate_each_read_is_produced_before_the_next_is_read() -> None:
    clock, registry = ManualClock(), CollectorRegistry()
    source = ScriptedSource([trades(300)] * 4, clock, 0.1, quiet=False)
    worker = hold_worker(source, clock, registry)
    asyncio.run(worker.run())
    assert source.in_kafka_on_resume == [300, 600, 900, 1200]


def test_a_checkpoint_covers_the_held_records_only_once_kafka_has_them() -> None:
    clock, registry = ManualClock(), CollectorRegistry()
    source = CheckpointedScript([trades(10)] * 4, clock, 0.5, quiet=False)
    worker = hold_worker(source, clock, registry, checkpoint_interval_s=1.0)
    asyncio.run(worker.run())
    # at 1.0 s (the third read) the kept reads are produced and acknowledged, then the
    # checkpoint; the final one after the last flush
    assert source.checkpoints == [30, 40]
    assert source.in_kafka_on_resume == [0, 0, 30, 30]


def test_bad_hold_settings_stop_start_up_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in (
        ("TICKWATCH_INGEST_HOLD_MS", "-1"),
        ("TICKWATCH_INGEST_HOLD_BELOW_RATE", "x"),
    ):
        monkeypatch.setenv(key, value)
        with pytest.raises(ConfigError, match=key):
            load_settings()
        monkeypatch.delenv(key)
