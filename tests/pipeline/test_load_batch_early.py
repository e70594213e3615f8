"""The early cut (``load.batch_min_ms`` / ``batch_min_rows``) and ``Batcher.due_in``, with an
injected clock: a batch is sealed early only while its partition has no batch waiting for its
insert and the consumer is not behind; recovery batches are never cut by time."""

from __future__ import annotations

import pytest

from pipeline.codec import RecordType
from pipeline.load.batch import Batch, Batcher
from tests.pipeline.test_load_batch import KEY, add, ranges
from tickwatch import dedup_window
from tickwatch.clock import ManualClock
from tickwatch.settings import load_settings


def early(min_rows: int = 1, recovery_end: int | None = None) -> tuple[Batcher, ManualClock]:
    clock = ManualClock()
    batcher = Batcher(1000, 500, clock, 2_000, min_ms=100, min_rows=min_rows)
    batcher.assign(KEY, RecordType.TRADE, recovery_end)
    return batcher, clock


def sealed(batcher: Batcher) -> list[Batch]:
    return list(batcher.partitions[KEY].sealed)


def test_a_batch_is_sealed_at_the_minimum_age_when_its_partition_is_idle() -> None:
    batcher, clock = early()
    add(batcher, 0, 1)
    clock.advance(0.099)
    batcher.tick()
    assert sealed(batcher) == []
    clock.advance(0.001)
    batcher.tick()
    assert ranges(sealed(batcher)) == [(0, 1)]


def test_the_early_cut_waits_for_the_minimum_rows() -> None:
    batcher, clock = early(min_rows=3)
    add(batcher, 0, 1)
    clock.advance(0.2)
    batcher.tick()
    assert sealed(batcher) == []  # 2 rows < 3: only the age limit applies
    add(batcher, 2)
    batcher.tick()
    assert ranges(sealed(batcher)) == [(0, 2)]


def test_the_early_cut_waits_until_the_previous_batch_is_inserted() -> None:
    batcher, clock = early()
    add(batcher, 0)
    clock.advance(0.1)
    batcher.tick()
    first = sealed(batcher)[0]
    add(batcher, 1, 2)
    clock.advance(0.2)
    batcher.tick()
    assert sealed(batcher) == [first]  # its insert is in the way: the batch keeps growing
    batcher.done(first)
    batcher.tick()
    assert ranges(sealed(batcher)) == [(1, 2)]


def test_a_waiting_partition_still_cuts_at_the_age_limit() -> None:
    batcher, clock = early()
    add(batcher, 0)
    clock.advance(0.1)
    batcher.tick()
    add(batcher, 1)
    clock.advance(0.5)
    batcher.tick()
    assert ranges(sealed(batcher)) == [(0, 0), (1, 1)]


def test_a_consumer_behind_gets_no_early_cut_and_the_backlog_age() -> None:
    batcher, clock = early()
    add(batcher, 0)
    clock.advance(0.6)
    batcher.tick(backlogged=True)
    assert sealed(batcher) == []
    clock.advance(1.4)
    batcher.tick(backlogged=True)
    assert ranges(sealed(batcher)) == [(0, 0)]


def test_a_recovery_batch_is_never_cut_early() -> None:
    batcher, clock = early(recovery_end=5)
    add(batcher, 0, 1)
    clock.advance(10.0)
    batcher.tick()
    assert sealed(batcher) == []
    assert batcher.due_in() is None
    add(batcher, 2, 3, 4, 5)
    assert ranges(sealed(batcher)) == [(0, 5)]


def test_due_in_is_the_time_until_the_next_cut() -> None:
    batcher, clock = early(min_rows=2)
    assert batcher.due_in() is None  # nothing open
    add(batcher, 0)
    clock.advance(0.05)
    assert batcher.due_in() == pytest.approx(0.45)  # one row: the age limit
    assert batcher.due_in(backlogged=True) == pytest.approx(1.95)
    add(batcher, 1)
    assert batcher.due_in() == pytest.approx(0.05)  # two rows: the early cut
    clock.advance(1.0)
    assert batcher.due_in() == 0.0


def test_without_a_minimum_age_only_the_age_limit_cuts() -> None:
    clock = ManualClock()
    batcher = Batcher(1000, 500, clock)
    batcher.assign(KEY, RecordType.TRADE, None)
    add(batcher, 0)
    clock.advance(0.4)
    batcher.tick()
    assert sealed(batcher) == []
    assert batcher.due_in() == pytest.approx(0.1)


def test_the_dedup_window_counts_the_early_cuts() -> None:
    off = dedup_window.need(load_settings(load={"batch_min_ms": 0}))
    on = dedup_window.need(load_settings(load={"batch_min_ms": 50, "batch_cadence_ms": 0}))
    assert off.time_cut_ms == off.batch_max_ms
    assert on.time_cut_ms == 50
    assert on.blocks > off.blocks
    assert "load.batch_min_ms=50" in on.explain()


def test_the_default_early_cut_keeps_the_default_dedup_window() -> None:
    # without the cadence (whose shorter cuts need more: tests/test_dedup_window.py)
    settings = load_settings(load={"batch_cadence_ms": 0})
    assert dedup_window.target(settings) == dedup_window.FLOOR
