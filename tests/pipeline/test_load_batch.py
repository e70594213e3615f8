"""The batcher's cut rules, with an injected clock and no Kafka or ClickHouse."""

from __future__ import annotations

import pytest

from pipeline.codec import FIELDS, RecordType
from pipeline.dlq import DeadLetter
from pipeline.load.backoff import Backoff
from pipeline.load.batch import Batch, Batcher
from tickwatch.clock import ManualClock

KEY = ("t.trades", 0)
ROW_WIDTH = len(FIELDS[RecordType.TRADE])


def make(
    max_rows: int = 3, max_ms: int = 500, recovery_end: int | None = None
) -> tuple[Batcher, ManualClock]:
    clock = ManualClock()
    batcher = Batcher(max_rows, max_ms, clock)
    batcher.assign(KEY, RecordType.TRADE, recovery_end)
    return batcher, clock


def add(batcher: Batcher, *offsets: int, valid: bool = True) -> None:
    for offset in offsets:
        batch = batcher.open_batch(KEY, offset)
        if batch is None:
            continue
        if valid:
            batch.rows.append(["S", "equity", offset, 1.0, 1.0, "", "", [], "", 5], 1, offset)
        else:
            batch.dead_letters.append(
                DeadLetter(*KEY, offset, 1, None, b"x", "malformed_json", "d")
            )
        batcher.added(KEY)


def ranges(batches: list[Batch]) -> list[tuple[int, int]]:
    return [(b.first_offset, b.last_offset) for b in batches]


def sealed(batcher: Batcher) -> list[tuple[int, int]]:
    return ranges(list(batcher.partitions[KEY].sealed))


def test_batch_is_sealed_at_max_rows_counting_dead_letters() -> None:
    batcher, _ = make(max_rows=3)
    add(batcher, 0, 1)
    add(batcher, 2, valid=False)
    add(batcher, 3, 4)
    assert sealed(batcher) == [(0, 2)]
    assert batcher.partitions[KEY].open is not None
    assert batcher.pending() == 5


def test_batch_is_sealed_when_older_than_max_ms_and_not_before() -> None:
    batcher, clock = make(max_rows=100, max_ms=500)
    add(batcher, 0, 1)
    clock.advance(0.499)
    batcher.tick()
    assert sealed(batcher) == []
    clock.advance(0.001)
    batcher.tick()
    assert sealed(batcher) == [(0, 1)]
    add(batcher, 2)
    reopened = batcher.partitions[KEY].open
    assert reopened is not None
    assert reopened.opened_at == clock.monotonic()


def test_recovery_batch_ends_exactly_at_the_recorded_end_ignoring_both_caps() -> None:
    batcher, clock = make(max_rows=2, max_ms=10, recovery_end=6)
    add(batcher, 3, 4, 5)
    clock.advance(60)
    batcher.tick()
    assert sealed(batcher) == []
    add(batcher, 6, 7)
    assert sealed(batcher) == [(3, 6)]
    add(batcher, 8)
    assert sealed(batcher) == [(3, 6), (7, 8)]


def test_recovery_batch_is_closed_by_a_later_offset_when_its_end_is_gone() -> None:
    batcher, _ = make(max_rows=100, recovery_end=6)
    add(batcher, 3, 4, 9)
    assert sealed(batcher) == [(3, 4)]
    assert batcher.partitions[KEY].recovery_end is None


def test_redelivered_offsets_are_skipped() -> None:
    batcher, _ = make(max_rows=100)
    add(batcher, 0, 1, 2, 1, 2, 3)
    batch = batcher.partitions[KEY].open
    assert batch is not None
    assert batch.rows.offsets == [0, 1, 2, 3]


def test_seal_all_keeps_an_unfinished_recovery_batch_open() -> None:
    batcher, _ = make(max_rows=100, recovery_end=10)
    add(batcher, 3, 4)
    batcher.seal_all()
    assert sealed(batcher) == []
    batcher.assign(("t.trades", 1), RecordType.TRADE, None)
    assert batcher.pending() == 2


def test_revoke_forgets_the_partition_and_reports_what_was_dropped() -> None:
    batcher, _ = make(max_rows=2)
    add(batcher, 0, 1, 2)
    assert batcher.revoke(KEY) == 3
    assert batcher.partitions == {}
    assert batcher.revoke(KEY) == 0


def test_failed_batch_waits_for_exponential_backoff_then_is_ready_again() -> None:
    batcher, clock = make(max_rows=1)
    backoff = Backoff(initial_s=0.5, max_s=2.0)
    add(batcher, 0)
    [batch] = batcher.ready()
    assert [batcher.retry_later(batch, backoff) for _ in range(4)] == [0.5, 1.0, 2.0, 2.0]
    assert batcher.backing_off() == {KEY}
    clock.advance(1.999)
    assert batcher.ready() == []
    clock.advance(0.001)
    assert batcher.ready() == [batch]
    batcher.done(batch)
    assert batcher.backing_off() == set()
    assert not batcher.has_sealed()


def test_token_names_topic_partition_and_range() -> None:
    batcher, _ = make(max_rows=2)
    add(batcher, 7, 8)
    assert [b.token() for b in batcher.ready()] == ["t.trades:0:7-8"]


@pytest.mark.parametrize(
    ("failures", "delay"), [(0, 0.5), (1, 1.0), (4, 8.0), (5, 15.0), (400, 15.0)]
)
def test_backoff_doubles_up_to_the_cap(failures: int, delay: float) -> None:
    assert Backoff(0.5, 15.0).delay(failures) == delay
