"""The early cut in table scope (``load.batch_scope = "table"``), with an injected clock: a
topic's open batches are cut together once they hold ``batch_min_rows`` messages *together*, the
oldest is ``batch_min_ms`` old and no partition of the topic has a batch in the insert path; below
``batch_min_rows`` only the deadline (``batch_max_ms``) closes them."""

from __future__ import annotations

import pytest

from pipeline.codec import RecordType
from pipeline.dlq import DeadLetter
from pipeline.load.batch import Batch, Batcher
from tickwatch.clock import ManualClock
from tickwatch.types import TopicPartitionKey

TRADES = "t.trades"
QUOTES = "t.quotes"
P0: TopicPartitionKey = (TRADES, 0)
P1: TopicPartitionKey = (TRADES, 1)
Q0: TopicPartitionKey = (QUOTES, 0)


def table(min_rows: int = 4, recovery_end: int | None = None) -> tuple[Batcher, ManualClock]:
    clock = ManualClock()
    batcher = Batcher(1000, 1000, clock, 2_000, min_ms=100, min_rows=min_rows, scope="table")
    batcher.assign(P0, RecordType.TRADE, None)
    batcher.assign(P1, RecordType.TRADE, recovery_end)
    batcher.assign(Q0, RecordType.QUOTE, None)
    return batcher, clock


def add(batcher: Batcher, key: TopicPartitionKey, *offsets: int) -> None:
    for offset in offsets:
        batch = batcher.open_batch(key, offset)
        assert batch is not None
        # a message counts whether valid or not: a dead letter needs no row of the kind
        batch.dead_letters.append(DeadLetter(*key, offset, 1, None, b"x", "malformed_json", "d"))
        batcher.added(key)


def sealed(batcher: Batcher, key: TopicPartitionKey) -> list[tuple[int, int]]:
    return [(b.first_offset, b.last_offset) for b in batcher.partitions[key].sealed]


def first_sealed(batcher: Batcher, key: TopicPartitionKey) -> Batch:
    return batcher.partitions[key].sealed[0]


def test_the_topic_rows_together_reach_the_minimum_and_cut_every_partition() -> None:
    batcher, clock = table(min_rows=4)
    add(batcher, P0, 0, 1)
    add(batcher, P1, 0, 1)  # 2 + 2: no partition alone holds batch_min_rows
    clock.advance(0.1)
    batcher.tick()
    assert sealed(batcher, P0) == [(0, 1)]
    assert sealed(batcher, P1) == [(0, 1)]


def test_below_the_minimum_rows_only_the_deadline_closes_the_topic() -> None:
    batcher, clock = table(min_rows=4)
    add(batcher, P0, 0)
    add(batcher, P1, 0, 1)
    clock.advance(0.999)
    batcher.tick()
    assert sealed(batcher, P0) == sealed(batcher, P1) == []
    clock.advance(0.001)
    batcher.tick()
    assert (sealed(batcher, P0), sealed(batcher, P1)) == ([(0, 0)], [(0, 1)])


def test_the_early_cut_waits_while_any_partition_of_the_topic_is_in_the_insert_path() -> None:
    batcher, clock = table(min_rows=2)
    add(batcher, P0, 0)
    add(batcher, P1, 0)
    clock.advance(0.1)
    batcher.tick()
    in_flight = first_sealed(batcher, P1)
    batcher.done(first_sealed(batcher, P0))  # one member inserted, the other not yet
    add(batcher, P0, 1, 2, 3)
    clock.advance(0.2)
    batcher.tick()
    assert sealed(batcher, P0) == []  # P1's batch of the group is still in the way
    assert batcher.due_in() == pytest.approx(
        0.8
    )  # P0's deadline (opened at 0.1), not the early cut
    batcher.done(in_flight)
    assert batcher.due_in() == 0.0
    batcher.tick()
    assert sealed(batcher, P0) == [(1, 3)]


def test_another_topics_insert_does_not_hold_the_topic_back() -> None:
    batcher, clock = table(min_rows=2)
    add(batcher, Q0, 0, 1)
    clock.advance(0.1)
    batcher.tick()
    assert sealed(batcher, Q0) == [(0, 1)]  # quotes in the insert path
    add(batcher, P0, 0, 1)
    clock.advance(0.1)
    batcher.tick()
    assert sealed(batcher, P0) == [(0, 1)]


def test_the_early_cut_counts_from_the_oldest_open_batch_of_the_topic() -> None:
    batcher, clock = table(min_rows=3)
    add(batcher, P0, 0)
    clock.advance(0.06)
    add(batcher, P1, 0, 1)
    assert batcher.due_in() == pytest.approx(0.04)
    clock.advance(0.04)
    batcher.tick()
    assert (sealed(batcher, P0), sealed(batcher, P1)) == ([(0, 0)], [(0, 1)])


def test_a_consumer_behind_gets_no_early_cut_in_table_scope() -> None:
    batcher, clock = table(min_rows=2)
    add(batcher, P0, 0, 1, 2)
    clock.advance(1.5)
    batcher.tick(backlogged=True)
    assert sealed(batcher, P0) == []
    clock.advance(0.5)
    batcher.tick(backlogged=True)
    assert sealed(batcher, P0) == [(0, 2)]


def test_a_recovery_batch_neither_counts_for_nor_is_cut_by_the_early_cut() -> None:
    batcher, clock = table(min_rows=3, recovery_end=5)
    add(batcher, P1, 0, 1, 2, 3)  # the recovery batch of P1: cut only at offset 5
    add(batcher, P0, 0)
    clock.advance(0.2)
    batcher.tick()
    assert sealed(batcher, P0) == sealed(batcher, P1) == []  # 1 free message < 3
    add(batcher, P1, 4, 5)
    assert sealed(batcher, P1) == [(0, 5)]  # at its recorded end, not by the clock
    add(batcher, P0, 1, 2)
    batcher.tick()
    assert sealed(batcher, P0) == []  # 3 free messages, but P1's recovery batch is in the way
    batcher.done(first_sealed(batcher, P1))
    batcher.tick()
    assert sealed(batcher, P0) == [(0, 2)]


def test_a_revoked_partition_no_longer_counts_for_the_topic() -> None:
    batcher, clock = table(min_rows=3)
    add(batcher, P0, 0)
    add(batcher, P1, 0, 1)
    batcher.revoke(P1)
    clock.advance(0.1)
    batcher.tick()
    assert sealed(batcher, P0) == []
