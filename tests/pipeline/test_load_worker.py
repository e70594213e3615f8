"""The worker's order of operations and failure handling, with in-memory Kafka and ClickHouse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import orjson
import pyarrow as pa
import pytest
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from pipeline.codec import FIELDS, RecordType, Trade, ValidationRules, to_wire
from pipeline.dlq import DeadLetterQueue
from pipeline.load.arrow import arrow_type
from pipeline.load.decode import MessageDecoder
from pipeline.load.insert import ClickHouseWriter
from pipeline.load.worker import LoadWorker
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings, LoadSettings
from tickwatch.telemetry.catalog import LoadMetrics

NOW_US = 1_763_700_000_000_000


@dataclass
class FakeMessage:
    _topic: str
    _partition: int
    _offset: int
    _value: bytes
    _key: bytes = b""
    _timestamp_ms: int = NOW_US // 1000

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return self._key

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp_ms)

    def error(self) -> None:
        return None


def trade_value(i: int, **fields: Any) -> bytes:
    body = to_wire(Trade(f"S{i % 5}", NOW_US + i, 100.0 + i % 3, 1.0))
    return orjson.dumps({**body, **fields})


@dataclass
class FakeBroker:
    """Partition logs and the group's committed offsets (offset, metadata)."""

    logs: dict[tuple[str, int], list[FakeMessage]] = field(default_factory=dict)
    committed: dict[tuple[str, int], tuple[int, str | None]] = field(default_factory=dict)
    commit_log: list[tuple[str, int, int, str | None]] = field(default_factory=list)

    def produce(self, topic: str, partition: int, value: bytes) -> None:
        log = self.logs.setdefault((topic, partition), [])
        log.append(FakeMessage(topic, partition, len(log), value))


class FakeConsumer:
    """One group member owning every partition of the subscribed topics.

    Pauses behave as librdkafka's: a paused partition stays paused across revoke and assign
    until it is resumed."""

    def __init__(self, broker: FakeBroker, events: list[str]) -> None:
        self.broker = broker
        self.events = events
        self.positions: dict[tuple[str, int], int] = {}
        self.paused: set[tuple[str, int]] = set()
        self.fail_commits = 0
        self.reset_to_end = False  # auto.offset.reset = latest: nothing committed -> log end
        self._on_assign: Callable[..., None] | None = None
        self._on_revoke: Callable[..., None] | None = None
        self.closed = False

    def subscribe(self, topics: list[str], *, on_assign: Any, on_revoke: Any, on_lost: Any) -> None:
        self._topics = topics
        self._on_assign, self._on_revoke = on_assign, on_revoke

    def assign_all(self) -> None:
        parts = [TopicPartition(t, p) for (t, p) in self.broker.logs if t in self._topics]
        for tp in parts:
            reset = len(self.broker.logs[(tp.topic, tp.partition)]) if self.reset_to_end else 0
            self.positions[(tp.topic, tp.partition)] = self.broker.committed.get(
                (tp.topic, tp.partition), (reset, None)
            )[0]
        assert self._on_assign is not None
        self._on_assign(self, parts)

    def assign(self, partitions: list[TopicPartition]) -> None:
        """As librdkafka's assign: an explicit offset (>= 0) positions the partition; the
        others start at their committed offset, as :meth:`assign_all` set them."""
        for tp in partitions:
            if tp.offset >= 0:
                self.positions[(tp.topic, tp.partition)] = tp.offset

    def revoke_all(self) -> None:
        assert self._on_revoke is not None
        self._on_revoke(self, [TopicPartition(t, p) for t, p in self.positions])
        self.positions.clear()

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        if not self.positions and self._on_assign is not None:
            self.assign_all()
        out: list[FakeMessage] = []
        for key, position in self.positions.items():
            if key in self.paused:
                continue
            taken = self.broker.logs[key][position : position + num_messages - len(out)]
            self.positions[key] = position + len(taken)
            out += taken
        return out

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        if self.fail_commits:
            self.fail_commits -= 1
            from confluent_kafka import KafkaException

            raise KafkaException("coordinator not available")
        for tp in offsets:
            self.broker.committed[(tp.topic, tp.partition)] = (tp.offset, tp.metadata)
            self.broker.commit_log.append((tp.topic, tp.partition, tp.offset, tp.metadata))
            self.events.append(f"commit {tp.partition}@{tp.offset} {tp.metadata or ''}".strip())
        return offsets

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        out = []
        for tp in partitions:
            offset, metadata = self.broker.committed.get((tp.topic, tp.partition), (-1001, None))
            found = TopicPartition(tp.topic, tp.partition, offset)
            if metadata is not None:
                found = TopicPartition(tp.topic, tp.partition, offset, metadata)
            out.append(found)
        return out

    def pause(self, partitions: list[TopicPartition]) -> None:
        self.paused |= {(tp.topic, tp.partition) for tp in partitions}

    def resume(self, partitions: list[TopicPartition]) -> None:
        self.paused -= {(tp.topic, tp.partition) for tp in partitions}

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in self.positions]

    def get_watermark_offsets(
        self, tp: TopicPartition, timeout: float | None = None, cached: bool = False
    ) -> tuple[int, int]:
        return (0, len(self.broker.logs[(tp.topic, tp.partition)]))

    def close(self) -> None:
        if self.positions:
            self.revoke_all()
        self.closed = True


_KINDS = {name: kind for spec in FIELDS.values() for name, kind, _ in spec}
_TYPES = {  # the ClickHouse types of the columns (clickhouse/0002_market_ticks.sql and later)
    "num": "Float64",
    "uint": "UInt64",
    "time": "DateTime64(6, 'UTC')",
    "texts": "Array(LowCardinality(String))",
    "trade_id": "String",
    "interval_s": "UInt32",
    "lot_size": "UInt32",
    "updates_open_close": "UInt8",
    "updates_high_low": "UInt8",
    "updates_volume": "UInt8",
    "recv_ts": "DateTime64(6, 'UTC')",
    "received_at": "DateTime64(6, 'UTC')",
    "inserted_at": "DateTime64(6, 'UTC')",
    "kafka_time": "DateTime64(3, 'UTC')",
    "kafka_partition": "UInt16",
    "kafka_offset": "UInt64",
}


def column_type(name: str) -> str:
    """The ClickHouse type of a column of the ticks tables (text columns: LowCardinality)."""
    kind = _KINDS.get({"event_time": "ts"}.get(name, name), "text")
    return _TYPES.get(name) or _TYPES.get(kind) or "LowCardinality(String)"


class FakeClickHouse:
    """Keeps inserted rows by table; drops an insert whose token it has seen (as MergeTree).

    Rows arrive as an Arrow stream (``raw_insert``, checked against the columns' types and
    turned into lists, times as integer ticks) or as lists (``insert``: the dead letters);
    both end in :meth:`insert`, where subclasses inject failures."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.tokens: set[str] = set()
        self.down = False
        self.attempts: list[str] = []
        self.describes: list[str] = []

    def create_insert_context(
        self, table: str, column_names: list[str], **_kwargs: Any
    ) -> SimpleNamespace:
        """As the client's: one ``DESCRIBE TABLE`` (counted), the columns' types. An outage is
        modelled on ``insert`` only, where the attempts are counted."""
        self.describes.append(table)
        types = [SimpleNamespace(name=column_type(name)) for name in column_names]
        return SimpleNamespace(column_types=types)

    def raw_insert(
        self,
        table: str,
        column_names: list[str],
        insert_block: pa.Buffer,
        *,
        settings: dict[str, Any],
        fmt: str,
    ) -> None:
        assert fmt == "ArrowStream"
        rows = pa.ipc.open_stream(insert_block).read_all()
        assert rows.schema.names == column_names
        assert list(rows.schema.types) == [arrow_type(column_type(n)) for n in column_names]
        data = [
            (c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c).to_pylist()
            for c in rows.columns
        ]
        types = [SimpleNamespace(name=column_type(name)) for name in column_names]
        self.insert(
            table, data, column_names=column_names, column_types=types,
            column_oriented=True, settings=settings,
        )  # fmt: skip

    def insert(
        self,
        table: str,
        data: list[list[Any]],
        *,
        column_names: list[str],
        column_types: list[Any],
        column_oriented: bool,
        settings: dict[str, Any],
    ) -> None:
        assert [t.name for t in column_types] == [column_type(name) for name in column_names]
        token = settings["insert_deduplication_token"]
        self.attempts.append(token)
        if self.down:
            from clickhouse_connect.driver.exceptions import OperationalError

            raise OperationalError("connection refused")
        self.events.append(f"insert {token}")
        if token in self.tokens:
            return
        self.tokens.add(token)
        rows = [dict(zip(column_names, values, strict=True)) for values in zip(*data, strict=True)]
        self.tables.setdefault(table, []).extend(rows)

    def offsets(self, table: str) -> list[tuple[int, int]]:
        return [(r["kafka_partition"], r["kafka_offset"]) for r in self.tables.get(table, [])]


class FakeProducer:
    def __init__(self) -> None:
        self.produced: list[tuple[str, bytes | None, bytes | None, Any]] = []

    def produce(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        *,
        headers: Any,
        on_delivery: Callable[..., None],
    ) -> None:
        self.produced.append((topic, value, key, headers))
        on_delivery(None, None)

    def flush(self, timeout: float) -> int:
        return 0

    def poll(self, timeout: float) -> int:
        return 0


TOPIC = "t.trades"
TABLE = "market.trades"


class Killed(Exception):
    """Stands for kill -9: the process is gone after this point."""


class Rig:
    """One worker over the shared broker and ClickHouse stand-ins."""

    def __init__(self, broker: FakeBroker, ch: FakeClickHouse, **load: Any) -> None:
        self.events = ch.events
        self.clock = ManualClock(NOW_US / 1e6)
        self.consumer = FakeConsumer(broker, self.events)
        self.registry = CollectorRegistry()
        self.producer = FakeProducer()
        metrics = LoadMetrics(self.registry)
        kinds = {TOPIC: RecordType.TRADE}
        # The per-partition order of operations (groups: test_load_group_worker.py), with
        # synchronous inserts (the insert thread: test_load_inflight.py).
        settings = LoadSettings(
            **{
                "batch_max_rows": 4,
                "batch_max_ms": 500,
                "batch_scope": "partition",
                "inserts_in_flight": 0,
                **load,
            }
        )
        self.worker = LoadWorker(
            consumer=self.consumer,  # type: ignore[arg-type]
            writer=ClickHouseWriter(ch, ClickHouseSettings(), self.clock, metrics),  # type: ignore[arg-type]
            dlq=DeadLetterQueue(self.producer, "t.dlq"),  # type: ignore[arg-type]
            kinds=kinds,
            decoder=MessageDecoder(
                kinds, ValidationRules.from_settings(settings), self.clock, metrics
            ),
            settings=settings,
            metrics=metrics,
            clock=self.clock,
        )
        self.worker.subscribe()

    def metric(self, name: str) -> float:
        value = self.registry.get_sample_value(name)
        assert value is not None
        return value

    def run_until_idle(self, steps: int = 50) -> None:
        for _ in range(steps):
            self.worker.step()
            self.clock.advance(0.5)


@pytest.fixture
def broker() -> FakeBroker:
    broker = FakeBroker()
    for i in range(10):
        broker.produce(TOPIC, i % 2, trade_value(i))
    return broker


@pytest.fixture
def ch() -> FakeClickHouse:
    return FakeClickHouse([])


def all_offsets(broker: FakeBroker) -> list[tuple[int, int]]:
    return sorted((p, m.offset()) for (_, p), log in broker.logs.items() for m in log)


def test_intent_commit_then_insert_then_commit_past_the_batch(
    broker: FakeBroker, ch: FakeClickHouse
) -> None:
    broker.produce(TOPIC, 0, b"{not json")
    rig = Rig(broker, ch)
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == [o for o in all_offsets(broker) if o != (0, 5)]
    partition0 = [
        e
        for e in ch.events
        if e.startswith(("commit 0@", f"insert {TOPIC}:0", "insert dlq:t.trades:0"))
    ]
    assert partition0 == [
        "commit 0@0 tickwatch:v1:end=3",
        f"insert {TOPIC}:0:0-3",
        "commit 0@4",
        "commit 0@4 tickwatch:v1:end=5",
        f"insert {TOPIC}:0:4-5",
        f"insert dlq:{TOPIC}:0:4-5",
        "commit 0@6",
    ]
    [(topic, value, _key, headers)] = rig.producer.produced
    assert (topic, value) == ("t.dlq", b"{not json")
    assert dict(headers)["reason"] == b"malformed_json"
    assert dict(headers)["original_offset"] == b"5"
    assert [r["reason"] for r in ch.tables["ops.dead_letters"]] == ["malformed_json"]
    sample = rig.registry.get_sample_value
    assert sample("tickwatch_load_rows_inserted_total", {"table": TABLE}) == 10
    assert sample("tickwatch_load_dead_letters_total", {"reason": "malformed_json"}) == 1
    assert sample("tickwatch_load_records_consumed_total", {"topic": TOPIC}) == 11


@pytest.mark.parametrize("trigger", ["rows", "time"])
def test_kill_after_insert_replays_the_recorded_batch_exactly(
    broker: FakeBroker, ch: FakeClickHouse, trigger: str
) -> None:
    first = Rig(broker, ch, batch_max_rows=4 if trigger == "rows" else 1000)
    original_insert = ch.insert

    def insert_then_die(*args: Any, **kwargs: Any) -> None:
        original_insert(*args, **kwargs)
        raise Killed

    ch.insert = insert_then_die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        first.worker.step()  # rows: the first batches are full and inserted here
        first.clock.advance(0.5)
        first.worker.step()  # time: they are cut by age and inserted here
    ch.insert = original_insert  # type: ignore[method-assign]
    killed_token = ch.attempts[-1]
    for i in range(10, 20):  # more arrives meanwhile: a naive replay would cut elsewhere
        broker.produce(TOPIC, i % 2, trade_value(i))
    second = Rig(broker, ch, batch_max_rows=3)
    second.run_until_idle()
    offsets = ch.offsets(TABLE)
    assert sorted(offsets) == all_offsets(broker)  # each exactly once
    assert ch.attempts.count(killed_token) == 2


def test_clickhouse_down_pauses_retries_same_token_with_backoff(
    broker: FakeBroker, ch: FakeClickHouse
) -> None:
    rig = Rig(broker, ch, retry_initial_s=1.0, retry_max_s=4.0)
    ch.down = True
    rig.worker.step()
    assert rig.consumer.paused == {(TOPIC, 0), (TOPIC, 1)}
    assert rig.metric("tickwatch_load_paused_partitions") == 2
    attempts = len(ch.attempts)
    rig.clock.advance(0.9)
    rig.worker.step()
    assert len(ch.attempts) == attempts  # still backing off
    rig.clock.advance(0.1)
    rig.worker.step()
    assert len(ch.attempts) == attempts + 2
    ch.down = False
    rig.clock.advance(2.0)
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)
    assert rig.consumer.paused == set()
    assert rig.metric("tickwatch_load_paused_partitions") == 0
    assert rig.metric("tickwatch_load_clickhouse_retries_total") == 4
    first_batch = [t for t in ch.attempts if t.startswith(f"{TOPIC}:0:")][:3]
    assert len(set(first_batch)) == 1


def test_memory_cap_pauses_every_partition(ch: FakeClickHouse) -> None:
    broker = FakeBroker()
    for i in range(200):
        broker.produce(TOPIC, i % 2, trade_value(i))
    rig = Rig(broker, ch, batch_max_rows=10, max_pending_rows=30, poll_batch=8)
    ch.down = True
    for _ in range(20):
        rig.worker.step()
        assert rig.worker.batcher.pending() <= 30 + 8
    assert rig.consumer.paused == {(TOPIC, 0), (TOPIC, 1)}
    ch.down = False
    rig.clock.advance(60)
    rig.run_until_idle(200)
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)


def test_intent_commit_failure_means_no_insert_until_it_succeeds(
    broker: FakeBroker, ch: FakeClickHouse
) -> None:
    rig = Rig(broker, ch)
    rig.consumer.fail_commits = 1
    rig.worker.step()
    assert ch.attempts == []
    assert rig.metric("tickwatch_load_commit_failures_total") == 1
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)


def test_revoke_drops_uncommitted_batches_and_the_next_owner_loads_them(
    broker: FakeBroker, ch: FakeClickHouse
) -> None:
    first = Rig(broker, ch, batch_max_rows=1000)
    first.worker.step()
    assert first.worker.batcher.pending() == 10
    first.consumer.revoke_all()
    assert first.worker.batcher.pending() == 0
    assert broker.committed == {}
    second = Rig(broker, ch)
    second.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)


@pytest.mark.parametrize("cause", ["clickhouse down", "intent commit failed"])
def test_a_partition_revoked_while_paused_is_fetched_again_when_assigned_back(
    broker: FakeBroker, ch: FakeClickHouse, cause: str
) -> None:
    """Issue 12 (kafka-kill9): a broker restart failed an intent commit, the partition backed
    off (paused), the session timed out and the same partitions came back; librdkafka kept the
    pause, the worker had forgotten it, and the partition was never fetched again."""
    rig = Rig(broker, ch, retry_initial_s=1.0, retry_max_s=4.0)
    if cause == "clickhouse down":
        ch.down = True
    else:
        rig.consumer.fail_commits = 1
    rig.worker.step()
    assert rig.consumer.paused == {(TOPIC, 0), (TOPIC, 1)}
    rig.consumer.revoke_all()  # the next poll assigns the same partitions again
    ch.down = False
    for i in range(10, 20):
        broker.produce(TOPIC, i % 2, trade_value(i))
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)
    assert rig.consumer.paused == set()
    assert rig.metric("tickwatch_load_paused_partitions") == 0


def test_drain_inserts_and_commits_everything_batched(
    broker: FakeBroker, ch: FakeClickHouse
) -> None:
    rig = Rig(broker, ch, batch_max_rows=1000, batch_max_ms=60_000)
    rig.worker.step()
    assert ch.attempts == []
    rig.worker.drain(timeout_s=5)
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)
    assert broker.committed == {(TOPIC, 0): (5, None), (TOPIC, 1): (5, None)}


def test_consumer_lag_is_reported_per_partition_in_offsets_and_seconds(
    broker: FakeBroker, ch: FakeClickHouse
) -> None:
    rig = Rig(broker, ch, poll_batch=3)
    rig.clock.advance(2.0)
    rig.worker.step()  # partition 0: offsets 0-2 of 0-4 read, the newest is 2 s old
    lag = {"topic": TOPIC, "partition": "0"}
    assert rig.registry.get_sample_value("tickwatch_load_consumer_lag", lag) == 2
    assert rig.registry.get_sample_value("tickwatch_load_consumer_lag_seconds", lag) == 2.0
    rig.run_until_idle()
    assert rig.registry.get_sample_value("tickwatch_load_consumer_lag", lag) == 0
    assert rig.registry.get_sample_value("tickwatch_load_consumer_lag_seconds", lag) == 0


def test_steps_are_traced_with_their_rows_and_offsets(
    broker: FakeBroker, ch: FakeClickHouse
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tickwatch.telemetry.tracing import install_global, release_global

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    install_global(provider)
    try:
        Rig(broker, ch).run_until_idle(3)
    finally:
        release_global(provider)
    spans = exporter.get_finished_spans()
    assert {"load.poll", "load.decode", "load.insert", "load.commit"} <= {s.name for s in spans}
    inserts = sorted(
        (
            s.attributes["partition"],
            s.attributes["first_offset"],
            s.attributes["last_offset"],
            s.attributes["rows"],
        )
        for s in spans
        if s.name == "load.insert" and s.attributes
    )
    assert inserts == [(0, 0, 3, 4), (0, 4, 4, 1), (1, 0, 3, 4), (1, 4, 4, 1)]


def test_polls_that_bring_nothing_record_no_span(broker: FakeBroker, ch: FakeClickHouse) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tickwatch.telemetry.tracing import install_global, release_global

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    install_global(provider)
    try:
        rig = Rig(broker, ch)
        rig.run_until_idle(10)  # the 10 messages come in the first polls; the rest are empty
        before = len(exporter.get_finished_spans())
        rig.run_until_idle(20)
    finally:
        release_global(provider)
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans if s.name == "load.poll"]
    assert all(s.attributes and s.attributes["messages"] for s in spans if s.name == "load.poll")
    assert len(spans) == before  # twenty empty polls, no span


def test_a_batch_deferred_by_the_flush_budget_records_no_insert_span() -> None:
    """Spans only for steps that did work: a batch the loop's budget did not reach has no
    ``load.insert`` span; every span stands for one insert that was sent."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tickwatch.telemetry.tracing import install_global, release_global

    class SlowClickHouse(FakeClickHouse):
        rig: Rig

        def insert(self, table: str, data: list[list[Any]], **kwargs: Any) -> None:
            self.rig.clock.advance(1.0)  # each insert spends the whole loop budget
            super().insert(table, data, **kwargs)

    broker = FakeBroker()
    for i in range(40):
        broker.produce(TOPIC, i % 4, trade_value(i))
    ch = SlowClickHouse([])
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    install_global(provider)
    try:
        rig = Rig(broker, ch, flush_budget_s=0.5)
        ch.rig = rig
        rig.run_until_idle(60)
        deferred = rig.metric("tickwatch_load_flush_deferred_total")
    finally:
        release_global(provider)
    inserts = [s for s in exporter.get_finished_spans() if s.name == "load.insert"]
    assert deferred > 0
    assert len(inserts) == len(ch.attempts)
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)


def test_column_types_are_read_once_per_table_not_before_every_insert(
    broker: FakeBroker, ch: FakeClickHouse
) -> None:
    rig = Rig(broker, ch, batch_max_rows=2)
    rig.run_until_idle()
    assert len(ch.attempts) == 6  # ten trades over two partitions, batches of two
    assert ch.describes == [TABLE]
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)
