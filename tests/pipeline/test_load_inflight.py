"""The pipelined insert (load.inserts_in_flight, pipeline/load/inflight.py), with in-memory Kafka
and ClickHouse and the worker's real insert thread.

The insert thread's progress is controlled, never timed: a gated ClickHouse holds an insert until
the test opens the gate, and the rigs wait for the lane (bounded) where the synchronous worker
would have returned from the insert. Order of operations per partition, a partition in flight
joining no new intent, revoke and lost partitions with an insert in flight, kill -9 after the
insert with no "done", a transient failure on the thread, a fatal one, drain, memory."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from pipeline.load.batch import Batch
from pipeline.load.inflight import InsertLane
from tests.pipeline.test_load_group_worker import GroupRig, three_partitions
from tests.pipeline.test_load_worker import (
    TABLE,
    TOPIC,
    FakeBroker,
    FakeClickHouse,
    Killed,
    Rig,
    all_offsets,
    trade_value,
)

WAIT_S = 10.0  # an upper bound for the insert thread to finish a fake insert; never reached


class GatedClickHouse(FakeClickHouse):
    """An insert waits until :attr:`gate` is open (open by default); :attr:`entered` is set
    when an insert is under way."""

    def __init__(self, events: list[str]) -> None:
        super().__init__(events)
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def insert(self, table: str, data: list[list[Any]], **kwargs: Any) -> None:
        self.entered.set()
        assert self.gate.wait(WAIT_S), "the test never opened the gate"
        super().insert(table, data, **kwargs)

    def hold(self) -> None:
        self.gate.clear()
        self.entered.clear()


class PipelinedRig(Rig):
    """A pipelined worker; :meth:`settle` waits for the insert thread after a step."""

    def __init__(self, broker: FakeBroker, ch: FakeClickHouse, **load: Any) -> None:
        super().__init__(broker, ch, **{"inserts_in_flight": 1, **load})
        self.on_lost: Any = None
        original = self.consumer.subscribe

        def subscribe(topics: list[str], *, on_assign: Any, on_revoke: Any, on_lost: Any) -> None:
            self.on_lost = on_lost
            original(topics, on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)

        self.consumer.subscribe = subscribe  # type: ignore[method-assign]
        self.worker.subscribe()

    def settle(self) -> None:
        lane = self.worker.inserts
        assert lane is not None
        assert lane.wait(WAIT_S)

    def run_until_idle(self, steps: int = 50) -> None:
        for _ in range(steps):
            self.worker.step()
            self.settle()
            self.clock.advance(0.5)

    def lose_all(self) -> None:
        parts = [TopicPartition(t, p) for t, p in self.consumer.positions]
        self.on_lost(self.consumer, parts)
        self.consumer.positions.clear()


def partition_events(ch: FakeClickHouse, partition: int) -> list[str]:
    prefixes = (
        f"commit {partition}@",
        f"insert {TOPIC}:{partition}:",
        f"insert dlq:{TOPIC}:{partition}:",
    )
    return [e for e in ch.events if e.startswith(prefixes)]


@pytest.fixture
def broker() -> FakeBroker:
    broker = FakeBroker()
    for i in range(10):
        broker.produce(TOPIC, i % 2, trade_value(i))
    return broker


def test_each_partition_keeps_intent_insert_done_and_its_next_intent_waits_for_done(
    broker: FakeBroker,
) -> None:
    broker.produce(TOPIC, 0, b"{not json")
    ch = GatedClickHouse([])
    rig = PipelinedRig(broker, ch)
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == [o for o in all_offsets(broker) if o != (0, 5)]
    assert partition_events(ch, 0) == [
        "commit 0@0 tickwatch:v1:end=3",
        f"insert {TOPIC}:0:0-3",
        "commit 0@4",
        "commit 0@4 tickwatch:v1:end=5",
        f"insert {TOPIC}:0:4-5",
        f"insert dlq:{TOPIC}:0:4-5",
        "commit 0@6",
    ]
    assert partition_events(ch, 1) == [
        "commit 1@0 tickwatch:v1:end=3",
        f"insert {TOPIC}:1:0-3",
        "commit 1@4",
        "commit 1@4 tickwatch:v1:end=4",
        f"insert {TOPIC}:1:4-4",
        "commit 1@5",
    ]
    assert [r["reason"] for r in ch.tables["ops.dead_letters"]] == ["malformed_json"]
    assert len(rig.producer.produced) == 1  # the DLQ topic copy, from the consumer's thread


def test_a_partition_in_flight_records_no_new_intent_until_its_done_is_committed(
    broker: FakeBroker,
) -> None:
    ch = GatedClickHouse([])
    rig = PipelinedRig(broker, ch, inserts_in_flight=2)
    ch.hold()
    rig.worker.step()  # both partitions' first batches are handed over
    assert ch.entered.wait(WAIT_S)
    for i in range(10, 30):
        broker.produce(TOPIC, i % 2, trade_value(i))
    for _ in range(5):  # more batches are cut meanwhile; none of them records an intent
        rig.clock.advance(1.0)
        rig.worker.step()
    intents = [e for e in ch.events if "end=" in e]
    assert intents == ["commit 0@0 tickwatch:v1:end=3", "commit 1@0 tickwatch:v1:end=3"]
    assert rig.worker.pending_rows() == 30  # the rows in flight count against the budget
    ch.gate.set()
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)
    for partition in (0, 1):  # "done" offsets of a partition only ever grow
        done = [o for _, p, o, meta in broker.commit_log if p == partition and meta is None]
        assert done == sorted(set(done)) and done[-1] == 15


def test_a_revoke_waits_for_the_insert_in_flight_and_commits_its_done(broker: FakeBroker) -> None:
    ch = GatedClickHouse([])
    rig = PipelinedRig(broker, ch, batch_max_rows=1000, batch_max_ms=500)
    ch.hold()
    rig.worker.step()
    rig.clock.advance(1.0)
    rig.worker.step()  # partition 0's batch (by age) is on the insert thread, held
    assert ch.entered.wait(WAIT_S)
    threading.Timer(0.05, ch.gate.set).start()  # it ends while the revoke waits
    rig.consumer.revoke_all()
    first = next(p for p in (0, 1) if (TOPIC, p) in broker.committed)
    assert broker.committed[(TOPIC, first)] == (5, None)  # its "done", while still owned
    second = PipelinedRig(broker, ch)
    second.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)


def test_an_insert_outliving_the_revoke_is_not_committed_and_the_replay_dedups(
    broker: FakeBroker,
) -> None:
    ch = GatedClickHouse([])
    rig = PipelinedRig(broker, ch, flush_budget_s=0.01)
    ch.hold()
    rig.worker.step()
    assert ch.entered.wait(WAIT_S)
    token = f"{TOPIC}:0:0-3"  # the first ready partition's batch, held on the thread
    rig.consumer.revoke_all()  # the wait ends at the flush budget: the insert still runs
    intent = dict(broker.committed)
    ch.gate.set()
    rig.settle()
    rig.run_until_idle()  # the same partitions come back: recorded batch re-formed, same token
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)
    assert ch.attempts.count(token) == 2  # the late insert and the replay, one set of rows
    assert intent == {(TOPIC, 0): (0, "tickwatch:v1:end=3")}  # no "done" after the revoke


def test_lost_partitions_get_no_commit_for_their_insert_in_flight(broker: FakeBroker) -> None:
    ch = GatedClickHouse([])
    rig = PipelinedRig(broker, ch)
    ch.hold()
    rig.worker.step()
    assert ch.entered.wait(WAIT_S)
    rig.lose_all()  # no wait: nothing may be committed for them any more
    ch.gate.set()
    rig.settle()
    before = list(broker.commit_log)
    rig.worker.flush_ready()  # collects the finished insert: dropped, uncommitted
    assert broker.commit_log == before
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)


def test_kill_after_the_threads_insert_before_done_replays_with_the_same_token(
    broker: FakeBroker,
) -> None:
    ch = GatedClickHouse([])
    first = PipelinedRig(broker, ch)
    first.worker.step()
    first.settle()  # inserted on the thread; kill -9 now: never collected, no "done"
    killed = ch.attempts[-1]
    assert all(meta for _, _, _, meta in broker.commit_log)  # only intents were committed
    for i in range(10, 20):  # more arrives meanwhile: a naive replay would cut elsewhere
        broker.produce(TOPIC, i % 2, trade_value(i))
    PipelinedRig(broker, ch, batch_max_rows=3).run_until_idle()
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)  # each exactly once
    assert ch.attempts.count(killed) == 2


def test_a_transient_failure_on_the_thread_backs_off_and_retries_the_same_token(
    broker: FakeBroker,
) -> None:
    ch = GatedClickHouse([])
    rig = PipelinedRig(broker, ch, retry_initial_s=1.0, retry_max_s=4.0)
    ch.down = True
    rig.worker.step()
    rig.settle()
    rig.worker.step()  # collects the failure: backoff, the partition paused
    assert rig.metric("tickwatch_load_clickhouse_retries_total") == 1
    assert (TOPIC, 0) in rig.consumer.paused
    failed = f"{TOPIC}:0:0-3"
    ch.down = False
    rig.clock.advance(2.0)
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)
    assert ch.attempts.count(failed) == 2
    assert rig.consumer.paused == set()


def test_an_error_on_the_thread_that_is_not_transient_stops_the_worker(
    broker: FakeBroker,
) -> None:
    ch = GatedClickHouse([])
    rig = PipelinedRig(broker, ch)

    def die(*_args: Any, **_kwargs: Any) -> None:
        raise Killed

    ch.insert = die  # type: ignore[method-assign]
    rig.worker.step()
    rig.settle()
    with pytest.raises(Killed):
        rig.worker.step()
    assert all(meta for _, _, _, meta in broker.commit_log)  # no "done" was committed


def test_drain_waits_for_the_inserts_in_flight(broker: FakeBroker) -> None:
    ch = GatedClickHouse([])
    rig = PipelinedRig(broker, ch, batch_max_rows=1000, batch_max_ms=60_000)
    rig.worker.step()
    ch.hold()
    threading.Timer(0.05, ch.gate.set).start()  # the drain waits on the insert meanwhile
    rig.worker.drain(timeout_s=5)
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)
    assert broker.committed == {(TOPIC, 0): (5, None), (TOPIC, 1): (5, None)}


def test_groups_on_the_thread_keep_one_intent_one_insert_one_done_per_table() -> None:
    broker, ch = three_partitions(), GatedClickHouse([])
    rig = GroupRig(broker, ch, inserts_in_flight=1)
    for _ in range(30):
        rig.worker.step()
        assert rig.worker.inserts is not None and rig.worker.inserts.wait(WAIT_S)
        rig.clock.advance(0.5)
    meta = "tickwatch:v2:g=0:0-3,1:0-3,2:0-3"
    assert ch.events == [
        f"commit 0@0 {meta}", f"commit 1@0 {meta}", f"commit 2@0 {meta}",
        f"insert {TOPIC}:g:0:0-3,1:0-3,2:0-3",
        "commit 0@4", "commit 1@4", "commit 2@4",
    ]  # fmt: skip


def test_the_lane_takes_no_more_than_its_limit() -> None:
    gate = threading.Event()

    class Writer:
        def write(self, batch: Batch, until: float = float("inf")) -> bool:
            return gate.wait(WAIT_S)

    lane = InsertLane(Writer(), 1)
    from pipeline.codec import RecordType

    batch = Batch(TOPIC, 0, RecordType.TRADE, 0, 0.0)
    lane.submit(batch, float("inf"))
    assert lane.busy_keys() == {(TOPIC, 0)} and lane.free == 0
    with pytest.raises(RuntimeError, match="in flight already"):
        lane.submit(batch, float("inf"))
    assert lane.finished() == []
    gate.set()
    assert lane.wait(WAIT_S)
    [done] = lane.finished()
    assert done.batch is batch and done.done and done.error is None
    lane.close()


def test_each_table_has_its_own_insert_thread_and_a_table_keeps_one() -> None:
    """``per_topic`` (load.insert_thread_per_table): a table's insert does not wait behind
    another table's; two inserts of one table never run at once (every insert of one token
    runs on that table's one thread, in submission order)."""
    gates = {TOPIC: threading.Event(), "t.quotes": threading.Event()}
    running: list[str] = []
    overlap: list[tuple[str, ...]] = []

    class Writer:
        def write(self, batch: Batch, until: float = float("inf")) -> bool:
            running.append(batch.topic)
            overlap.append(tuple(running))
            done = gates[batch.topic].wait(WAIT_S)
            running.remove(batch.topic)
            return done

    from pipeline.codec import RecordType

    lane = InsertLane(Writer(), 4, per_topic=True)
    first = Batch(TOPIC, 0, RecordType.TRADE, 0, 0.0)
    second = Batch(TOPIC, 1, RecordType.TRADE, 0, 0.0)
    quotes = Batch("t.quotes", 0, RecordType.QUOTE, 0, 0.0)
    for batch in (first, second, quotes):
        lane.submit(batch, float("inf"))
    gates["t.quotes"].set()  # the trades insert is still held: the quotes one ends anyway
    assert lane.wait(WAIT_S, [("t.quotes", 0)])
    assert [f.batch for f in lane.finished()] == [quotes]
    gates[TOPIC].set()
    assert lane.wait(WAIT_S)
    assert [f.batch for f in lane.finished()] == [first, second]
    assert all(names.count(TOPIC) <= 1 for names in overlap)  # one trades insert at a time
    lane.close()
