"""Groups in the worker (load.batch_scope = "table"), with in-memory Kafka and ClickHouse.

One INSERT per table carrying several partitions; kill -9 between intent and done; a rebalance
that splits a recorded group across two members (same rows, same token); a partial intent
rolled forward; bisection with equal offsets in two partitions; the metadata size cap; a
member with nothing committed under auto.offset.reset = latest positioned at the recorded
first; the eager rebalance protocol the argument relies on (start-up check, partial revoke)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, TopicPartition
from prometheus_client import CollectorRegistry

from pipeline.codec import RecordType, ValidationRules
from pipeline.dlq import DeadLetterQueue
from pipeline.errors import FatalError
from pipeline.load.decode import MessageDecoder
from pipeline.load.group import parse_group
from pipeline.load.insert import ClickHouseWriter
from pipeline.load.memory import index_rows
from pipeline.load.worker import LoadWorker, check_eager_rebalance
from pipeline.load_cli import CONSUMER_CONFIG
from tests.pipeline.test_load_bisect import BAD_PRICE, RejectingClickHouse, dead_letters
from tests.pipeline.test_load_worker import (
    NOW_US,
    TABLE,
    TOPIC,
    FakeBroker,
    FakeClickHouse,
    FakeConsumer,
    FakeMessage,
    FakeProducer,
    Killed,
    trade_value,
)
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings, LoadSettings
from tickwatch.telemetry.catalog import LoadMetrics


class GroupConsumer(FakeConsumer):
    """A member owning ``owned`` partitions (all when None); lists the topic's partitions; its
    commits may fail for chosen partitions (a partial intent)."""

    def __init__(self, broker: FakeBroker, events: list[str], owned: set[int] | None) -> None:
        super().__init__(broker, events)
        self.owned = owned
        self.refuse: set[int] = set()
        self.commits: list[tuple[str, int, int, str | None]] = []

    def assign_all(self) -> None:
        keep = {k: v for k, v in self.broker.logs.items()}
        if self.owned is not None:
            self.broker.logs = {k: v for k, v in keep.items() if k[1] in self.owned}
        try:
            super().assign_all()
        finally:
            self.broker.logs = keep

    def list_topics(self, timeout: float) -> SimpleNamespace:
        topics = {t for t, _ in self.broker.logs}
        parts = {t: {p: None for (name, p) in self.broker.logs if name == t} for t in topics}
        return SimpleNamespace(topics={t: SimpleNamespace(partitions=parts[t]) for t in topics})

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> list[TopicPartition]:
        refused = [tp for tp in offsets if tp.partition in self.refuse]
        done = super().commit([tp for tp in offsets if tp.partition not in self.refuse], False)
        self.commits += [(tp.topic, tp.partition, tp.offset, tp.metadata) for tp in done]
        error = KafkaError(KafkaError.OFFSET_METADATA_TOO_LARGE)
        failed = [
            SimpleNamespace(topic=tp.topic, partition=tp.partition, error=error) for tp in refused
        ]
        return done + failed  # type: ignore[operator]


class LogRanges:
    """The side consumer over the fake broker's logs; records what it read."""

    def __init__(self, broker: FakeBroker) -> None:
        self.broker = broker
        self.reads: list[tuple[int, int, int]] = []

    def read(
        self, topic: str, partition: int, first: int, last: int, timeout_s: float
    ) -> list[FakeMessage]:
        self.reads.append((partition, first, last))
        return [m for m in self.broker.logs[(topic, partition)] if first <= m.offset() <= last]

    def close(self) -> None:
        pass


class Recording(FakeClickHouse):
    """Keeps every attempt's (token, rows) too: a replay must send the same rows."""

    def __init__(self, events: list[str]) -> None:
        super().__init__(events)
        self.sent: list[tuple[str, list[tuple[int, int]]]] = []

    def insert(self, table: str, data: list[list[Any]], **kwargs: Any) -> None:
        names = kwargs["column_names"]
        partitions, offsets = (
            data[names.index("kafka_partition")],
            data[names.index("kafka_offset")],
        )
        rows = list(zip(partitions, offsets, strict=True))
        self.sent.append((kwargs["settings"]["insert_deduplication_token"], rows))
        super().insert(table, data, **kwargs)


class GroupRig:
    def __init__(
        self, broker: FakeBroker, ch: FakeClickHouse, owned: set[int] | None = None, **load: Any
    ) -> None:
        self.clock = ManualClock(NOW_US / 1e6)
        self.consumer = GroupConsumer(broker, ch.events, owned)
        self.ranges = LogRanges(broker)
        self.registry = CollectorRegistry()
        metrics = LoadMetrics(self.registry)
        kinds = {TOPIC: RecordType.TRADE}
        settings = LoadSettings(  # synchronous inserts (the insert thread: test_load_inflight.py)
            **{
                "batch_max_rows": 1000,
                "batch_max_ms": 500,
                "batch_scope": "table",
                "inserts_in_flight": 0,
                **load,
            }
        )
        self.worker = LoadWorker(
            consumer=self.consumer,  # type: ignore[arg-type]
            writer=ClickHouseWriter(ch, ClickHouseSettings(), self.clock, metrics),  # type: ignore[arg-type]
            dlq=DeadLetterQueue(FakeProducer(), "t.dlq"),  # type: ignore[arg-type]
            kinds=kinds,
            decoder=MessageDecoder(
                kinds, ValidationRules.from_settings(settings), self.clock, metrics
            ),
            settings=settings,
            metrics=metrics,
            clock=self.clock,
            ranges=self.ranges,  # type: ignore[arg-type]
        )
        self.worker.subscribe()

    def run_until_idle(self, steps: int = 30) -> None:
        for _ in range(steps):
            self.worker.step()
            self.clock.advance(0.5)


def three_partitions(per_partition: int = 4) -> FakeBroker:
    broker = FakeBroker()
    for i in range(3 * per_partition):
        broker.produce(TOPIC, i % 3, trade_value(i))
    return broker


def every_offset(broker: FakeBroker) -> list[tuple[int, int]]:
    return sorted((p, m.offset()) for (_, p), log in broker.logs.items() for m in log)


def inserts(ch: FakeClickHouse) -> list[str]:
    return [e.removeprefix("insert ") for e in ch.events if e.startswith("insert ")]


def test_one_insert_per_table_carries_every_partition_recorded_in_one_intent() -> None:
    broker, ch = three_partitions(), FakeClickHouse([])
    rig = GroupRig(broker, ch)
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == every_offset(broker)
    assert inserts(ch) == [f"{TOPIC}:g:0:0-3,1:0-3,2:0-3"]
    meta = "tickwatch:v2:g=0:0-3,1:0-3,2:0-3"
    assert ch.events == [
        f"commit 0@0 {meta}", f"commit 1@0 {meta}", f"commit 2@0 {meta}",
        f"insert {TOPIC}:g:0:0-3,1:0-3,2:0-3",
        "commit 0@4", "commit 1@4", "commit 2@4",
    ]  # fmt: skip


def kill_after_insert(rig: GroupRig, ch: FakeClickHouse) -> str:
    original = ch.insert

    def insert_then_die(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        raise Killed

    ch.insert = insert_then_die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        rig.run_until_idle()
    ch.insert = original  # type: ignore[method-assign]
    return ch.attempts[-1]


def test_kill_between_intent_and_done_replays_the_group_exactly_once() -> None:
    broker, ch = three_partitions(), Recording([])
    token = kill_after_insert(GroupRig(broker, ch), ch)
    for i in range(12, 24):  # more arrives meanwhile: a naive replay would cut elsewhere
        broker.produce(TOPIC, i % 3, trade_value(i))
    GroupRig(broker, ch).run_until_idle()
    assert sorted(ch.offsets(TABLE)) == every_offset(broker)  # each exactly once
    sent = [rows for t, rows in ch.sent if t == token]
    assert len(sent) == 2 and sent[0] == sent[1]  # same token, same rows


def test_a_rebalance_splitting_a_recorded_group_keeps_its_rows_and_token() -> None:
    broker, ch = three_partitions(), Recording([])
    token = kill_after_insert(GroupRig(broker, ch), ch)
    for i in range(12, 18):
        broker.produce(TOPIC, i % 3, trade_value(i))
    one, two = GroupRig(broker, ch, owned={0}), GroupRig(broker, ch, owned={1, 2})
    for _ in range(30):
        for rig in (one, two):
            rig.worker.step()
            rig.clock.advance(0.5)
    assert sorted(ch.offsets(TABLE)) == every_offset(broker)
    sent = [rows for t, rows in ch.sent if t == token]
    assert len(sent) == 3 and sent[0] == sent[1] == sent[2]  # the kill, then each member
    assert one.ranges.reads == [(1, 0, 3), (2, 0, 3)]
    assert two.ranges.reads == [(0, 0, 3)]
    # each member committed "done" only for the partitions it owns
    assert {tp for tp, _o, _m in _commits(broker, one)} <= {0}
    assert {tp for tp, _o, _m in _commits(broker, two)} <= {1, 2}


def _commits(broker: FakeBroker, rig: GroupRig) -> list[tuple[int, int, str | None]]:
    return [(p, o, m) for (_t, p, o, m) in rig.consumer.commits]


def test_a_partial_intent_inserts_nothing_and_is_rolled_forward_after_a_restart() -> None:
    broker, ch = three_partitions(), Recording([])
    first = GroupRig(broker, ch)
    first.consumer.refuse = {2}
    for _ in range(4):
        first.worker.step()
        first.clock.advance(0.5)
    assert ch.attempts == []  # no insert without every member's intent
    assert parse_group(broker.committed[(TOPIC, 0)][1]) is not None
    assert (TOPIC, 2) not in broker.committed
    # kill -9 here; the restarted worker (or a new owner) rolls the recorded group forward
    second = GroupRig(broker, ch)
    second.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == every_offset(broker)
    assert inserts(ch)[0] == f"{TOPIC}:g:0:0-3,1:0-3,2:0-3"


def test_bisection_with_equal_offsets_in_two_partitions_loses_nothing() -> None:
    broker = FakeBroker()
    for i in range(16):
        price = BAD_PRICE if (i % 2, i // 2) == (0, 3) else None
        value = trade_value(i, price=price) if price else trade_value(i)
        broker.produce(TOPIC, i % 2, value)  # partitions 0 and 1 both hold offsets 0..7
    ch = RejectingClickHouse([])
    GroupRig(broker, ch).run_until_idle()
    assert sorted(ch.offsets(TABLE)) == [o for o in every_offset(broker) if o != (0, 3)]
    assert [(p, o) for p, o, _r in dead_letters(ch)] == [(0, 3)]
    pieces = [t for t in ch.attempts if "/" in t]
    assert len(pieces) == len(set(pieces))  # every piece its own token


def test_a_group_too_large_for_the_metadata_limit_is_split() -> None:
    broker = FakeBroker()
    for i in range(12):
        broker.produce(TOPIC, i % 6, trade_value(i))
    ch = FakeClickHouse([])
    limit = len("tickwatch:v2:g=0:0-1,1:0-1,2:0-1") + 1  # the broker refuses the limit itself
    GroupRig(broker, ch, offset_metadata_max_bytes=limit).run_until_idle()
    assert sorted(ch.offsets(TABLE)) == every_offset(broker)
    assert inserts(ch) == [f"{TOPIC}:g:0:0-1,1:0-1,2:0-1", f"{TOPIC}:g:3:0-1,4:0-1,5:0-1"]
    assert all(len(m or "") < limit for (_t, _p, _o, m) in broker.commit_log)


def test_a_partition_paused_when_revoked_is_resumed_so_a_later_assignment_fetches_it() -> None:
    broker, ch = three_partitions(), FakeClickHouse([])
    ch.down = True  # every insert fails: the partitions back off, paused
    rig = GroupRig(broker, ch, retry_initial_s=5.0, retry_max_s=5.0)
    for _ in range(4):
        rig.worker.step()
        rig.clock.advance(0.5)
    assert rig.consumer.paused == {(TOPIC, 0), (TOPIC, 1), (TOPIC, 2)}
    paused_at_revoke: list[set[tuple[str, int]]] = []
    revoke = rig.worker._on_revoke

    def observed(consumer: Any, partitions: list[TopicPartition]) -> None:
        revoke(consumer, partitions)
        paused_at_revoke.append(set(rig.consumer.paused))

    rig.consumer._on_revoke = observed
    rig.consumer.revoke_all()
    assert paused_at_revoke == [set()]  # librdkafka keeps an application pause: resumed here
    ch.down = False
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == every_offset(broker)


def test_a_fresh_member_under_latest_starts_at_the_recorded_first_so_the_group_is_reformed() -> (
    None
):
    """auto.offset.reset = latest and a partial intent: partitions 0 and 1 recorded the group,
    partition 2 never committed anything. Its new owner positions it at the group's recorded
    first (not at the log's end), so the group is re-formed from its own consumption."""
    broker, ch = three_partitions(), Recording([])
    meta = "tickwatch:v2:g=0:0-3,1:0-3,2:0-3"
    broker.committed[(TOPIC, 0)] = (0, meta)
    broker.committed[(TOPIC, 1)] = (0, meta)
    rig = GroupRig(broker, ch, auto_offset_reset="latest")
    rig.consumer.reset_to_end = True
    rig.run_until_idle()  # nothing new arrives: at the log's end it would wait forever
    token = f"{TOPIC}:g:0:0-3,1:0-3,2:0-3"
    assert inserts(ch) == [token]
    for i in range(12, 18):  # more arrives later
        broker.produce(TOPIC, i % 3, trade_value(i))
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == every_offset(broker)  # each exactly once, none skipped
    [(_t, rows)] = [sent for sent in ch.sent if sent[0] == token]
    assert rows == [(p, o) for p in range(3) for o in range(4)]
    assert rig.ranges.reads == []  # every member is this worker's: no side read


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("partition.assignment.strategy", "cooperative-sticky"),
        ("partition.assignment.strategy", "range,cooperative-sticky"),
        ("group.protocol", "consumer"),
    ],
)
def test_an_incremental_rebalance_protocol_is_refused_at_start_up_naming_the_key(
    key: str, value: str
) -> None:
    with pytest.raises(FatalError, match=key.replace(".", r"\.")):
        check_eager_rebalance({"group.id": "g", key: value})
    check_eager_rebalance({"group.id": "g", "partition.assignment.strategy": "range,roundrobin"})


def test_the_worker_s_consumer_configuration_is_eager() -> None:
    """The consumer configuration build_worker uses passes the check (it sets no assignor:
    librdkafka's default range,roundrobin, classic protocol)."""
    conf = {**CONSUMER_CONFIG, "group.id": "tickwatch-load"}
    check_eager_rebalance(conf)
    assert "partition.assignment.strategy" not in conf and "group.protocol" not in conf


def test_a_partial_revoke_leaving_a_group_member_owned_is_fatal() -> None:
    """Under the eager protocol a revoke takes every partition; one that takes only part of a
    group in flight (an incremental revoke) stops the worker instead of guessing."""
    broker, ch = three_partitions(), FakeClickHouse([])
    ch.down = True  # the group is formed and its intent recorded, but never inserted
    rig = GroupRig(broker, ch, retry_initial_s=5.0, retry_max_s=5.0)
    for _ in range(4):
        rig.worker.step()
        rig.clock.advance(0.5)
    assert rig.worker._fresh  # a group in flight
    with pytest.raises(FatalError, match="eager"):
        rig.worker._on_revoke(rig.consumer, [TopicPartition(TOPIC, 0)])  # type: ignore[arg-type]


def _count(rig: GroupRig, name: str, **labels: str) -> float:
    return rig.registry.get_sample_value(name, labels) or 0.0


def test_side_reads_are_counted_apart_so_each_message_is_consumed_once_across_members() -> None:
    """A recorded group split by a rebalance: each member re-reads the others' ranges. Those
    re-reads go to tickwatch_load_side_read_records_total; records_consumed and dead_letters
    count every message once, at its owner."""
    broker = three_partitions()
    broker.produce(TOPIC, 1, b"{not json")  # a dead letter in partition 1's range
    ch = Recording([])
    kill_after_insert(GroupRig(broker, ch), ch)
    one, two = GroupRig(broker, ch, owned={0}), GroupRig(broker, ch, owned={1, 2})
    for _ in range(30):
        for rig in (one, two):
            rig.worker.step()
            rig.clock.advance(0.5)
    assert sorted(ch.offsets(TABLE)) == [o for o in every_offset(broker) if o != (1, 4)]
    assert one.ranges.reads == [(1, 0, 4), (2, 0, 3)]
    assert two.ranges.reads == [(0, 0, 3)]
    consumed = "tickwatch_load_records_consumed_total"
    side = "tickwatch_load_side_read_records_total"
    dead = "tickwatch_load_dead_letters_total"
    assert _count(one, consumed, topic=TOPIC) == 4  # partition 0
    assert _count(two, consumed, topic=TOPIC) == 9  # partitions 1 and 2, the bad one included
    assert _count(one, side, topic=TOPIC, outcome="row") == 8
    assert _count(one, side, topic=TOPIC, outcome="dead_letter") == 1
    assert _count(two, side, topic=TOPIC, outcome="row") == 4
    assert _count(two, side, topic=TOPIC, outcome="dead_letter") == 0
    reasons = {"one": one, "two": two}
    total = {
        n: sum(s.value for m in r.registry.collect() if m.name + "_total" == dead
               for s in m.samples if s.name == dead)
        for n, r in reasons.items()
    }  # fmt: skip
    assert total == {"one": 0.0, "two": 1.0}  # the dead letter counted once, at its owner


def test_a_recovery_group_s_side_read_rows_and_index_count_as_pending_rows() -> None:
    """The member owning partition 0 re-forms a recorded group and cannot insert it: the rows
    it read for partitions 1 and 2 are held only by the group, and count against the budget
    with the group's index, on top of the batcher's own rows."""
    broker, ch = three_partitions(), Recording([])
    kill_after_insert(GroupRig(broker, ch), ch)
    ch.down = True
    one = GroupRig(broker, ch, owned={0}, retry_initial_s=5.0, retry_max_s=5.0)
    for _ in range(6):
        one.worker.step()
        one.clock.advance(0.5)
    assert one.ranges.reads == [(1, 0, 3), (2, 0, 3)]
    own = one.worker.batcher.pending()
    assert own == 4
    assert one.worker.pending_rows() == own + 8 + index_rows(12, RecordType.TRADE)
