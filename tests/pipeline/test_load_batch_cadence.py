"""The cadence (``load.batch_cadence_ms``, table scope) with an injected clock: a table fed at
least ``batch_min_rate`` but fewer than ``batch_cadence_max_rate`` messages a second is cut
``batch_cadence_ms`` after its previous cut — not ``batch_min_ms`` after its batch's first
message — once its previous insert returned; a faster table keeps the cut from the opening, a
slower one the deadline, a consumer behind the backlog age.

The loop of :mod:`tests.pipeline.test_load_batch_rate` stands in for the worker, pipelined: it
polls every ``poll_s`` while a group is inserted for ``insert_s``, one group at a time.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from tests.pipeline import test_load_batch_rate as early
from tests.pipeline.test_load_batch_rate import STEP_S, Cut, Feed
from tickwatch import dedup_window
from tickwatch.clock import ManualClock
from tickwatch.settings import LoadSettings, load_settings

DEFAULTS: LoadSettings = load_settings().load
CADENCE_S = DEFAULTS.batch_cadence_ms / 1000
MIN_S = DEFAULTS.batch_min_ms / 1000


def run(
    feed: Feed,
    seconds: float,
    insert_s: float = 0.0,
    *,
    load: LoadSettings = DEFAULTS,
    backlogged: bool = False,
    scope: str = "table",
) -> list[Cut]:
    """The pipelined worker's loop over ``seconds`` with the cadence on; every cut."""
    return early.run(
        feed, seconds, insert_s, backlogged, pipelined=True,
        make=lambda clock: early.batcher_for(clock, load, scope, cadence=True),
    )  # fmt: skip


def gaps(cuts: list[Cut]) -> list[float]:
    return [b.at - a.at for a, b in pairwise(cuts)][1:]  # from the second cut on


@pytest.mark.parametrize("rate", [333, 667, 1_333])  # quotes and trades at 1k, trades at 2k
def test_a_table_in_the_band_is_cut_a_cadence_after_its_previous_cut(rate: int) -> None:
    """The insert (30 ms) is shorter than the cadence: cuts come every batch_cadence_ms, the
    batch's opening (a poll after the cut) and the poll's step add nothing."""
    cuts = run(Feed(rate, poll_s=0.02), 10.0, insert_s=0.03)
    assert all(CADENCE_S - 1e-6 <= g <= CADENCE_S + STEP_S + 1e-6 for g in gaps(cuts))
    assert len(cuts) >= 10 / (CADENCE_S + STEP_S) - 2


def test_an_insert_longer_than_the_cadence_is_followed_by_a_cut_as_it_ends() -> None:
    cuts = run(Feed(667, poll_s=0.01), 10.0, insert_s=0.15)
    assert all(0.15 - 1e-6 <= g <= 0.15 + 2 * STEP_S for g in gaps(cuts))
    assert min(c.rows for c in cuts[1:]) >= 667 * 0.15 * 0.9  # what came during the insert


@pytest.mark.parametrize("insert_s", [0.0, 0.03, 0.079])
def test_two_cuts_in_the_band_are_never_closer_than_the_cadence(insert_s: float) -> None:
    cuts = run(Feed(1_500, poll_s=0.01), 5.0, insert_s=insert_s)
    assert min(b.at - a.at for a, b in pairwise(cuts)) >= CADENCE_S - 1e-6


@pytest.mark.parametrize("rate", [3_333, 6_667, 50_000])  # quotes and trades at 10k, 50k
def test_a_table_above_the_band_is_cut_at_the_minimum_age_from_its_opening(rate: int) -> None:
    cuts = run(Feed(rate, poll_s=0.02), 10.0, insert_s=0.03)
    assert all(c.age >= MIN_S - 1e-6 for c in cuts[1:])
    assert all(g >= MIN_S - 1e-6 for g in gaps(cuts))


@pytest.mark.parametrize("rate", [67, 133])  # quotes and trades at 200 ticks/s
def test_a_table_below_the_rate_keeps_the_deadline(rate: int) -> None:
    cuts = run(Feed(rate), 10.0, insert_s=0.03)
    assert cuts
    assert all(c.age >= DEFAULTS.batch_max_ms / 1000 - 1e-6 for c in cuts)


def test_a_consumer_behind_gets_no_cadence() -> None:
    cuts = run(Feed(667), 10.0, insert_s=0.03, backlogged=True)
    assert cuts
    assert all(c.age >= DEFAULTS.batch_backlog_max_ms / 1000 - 1e-6 for c in cuts)


def test_without_a_cadence_the_cut_counts_from_the_opening() -> None:
    load = load_settings(load={"batch_cadence_ms": 0}).load
    cuts = run(Feed(667, poll_s=0.02), 10.0, insert_s=0.03, load=load)
    assert all(c.age >= MIN_S - 1e-6 for c in cuts[1:])


def test_due_in_points_a_cadence_after_the_previous_cut() -> None:
    clock = ManualClock()
    batcher, feed = early.batcher_for(clock, cadence=True), Feed(667)
    clock.advance(0.1)
    feed.poll(batcher, 0.1)
    clock.advance(MIN_S)
    batcher.tick()  # the first cut: from the opening (no previous cut)
    for batch in batcher.ready():
        batcher.done(batch)
    clock.advance(0.02)
    feed.poll(batcher, clock.monotonic())  # opens 20 ms after the cut
    assert batcher.due_in() == pytest.approx(CADENCE_S - 0.02)


def test_partition_scope_has_no_cadence() -> None:
    """Per partition, the early cut keeps counting from the batch's opening."""
    cuts = run(Feed(6 * 667, poll_s=0.02), 5.0, insert_s=0.03, scope="partition")
    assert len(cuts) > 10
    assert all(c.age >= MIN_S - 1e-6 for c in cuts[1:])


def test_the_dedup_window_counts_the_cadence() -> None:
    on = dedup_window.need(load_settings())
    off = dedup_window.need(load_settings(load={"batch_cadence_ms": 0}))
    partition = dedup_window.need(load_settings(load={"batch_scope": "partition"}))
    assert on.time_cut_ms == DEFAULTS.batch_cadence_ms < off.time_cut_ms == DEFAULTS.batch_min_ms
    assert partition.time_cut_ms == DEFAULTS.batch_min_ms  # no cadence outside table scope
    assert on.blocks > off.blocks
    assert f"load.batch_cadence_ms={DEFAULTS.batch_cadence_ms}" in on.explain()


def test_a_fast_table_short_of_the_row_floor_polls_a_quarter_of_the_cadence() -> None:
    """A batch below ``batch_min_rows`` at its cadence time is cut at the first poll that brings
    the rows, which must not wait a whole poll timeout (the deadline is 1 s away)."""
    clock = ManualClock()
    batcher, feed = early.batcher_for(clock, cadence=True), Feed(667)
    clock.advance(0.2)
    feed.poll(batcher, 0.2)  # 133 rows: the rate is reached
    clock.advance(MIN_S)
    feed.poll(batcher, clock.monotonic())
    batcher.tick()  # the first cut: batch_min_ms after the opening (no previous cut)
    for batch in batcher.ready():
        batcher.done(batch)
    clock.advance(0.005)
    feed.poll(batcher, clock.monotonic())  # 3 rows: below the floor
    open_rows = sum(s.open.size for s in batcher.partitions.values() if s.open is not None)
    assert 0 < open_rows < DEFAULTS.batch_min_rows
    assert batcher.due_in() == pytest.approx(CADENCE_S / 4)
