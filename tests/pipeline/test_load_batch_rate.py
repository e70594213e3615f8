"""The early cut's rate (``load.batch_min_rate``) in table scope, with an injected clock and the
default batch settings: a table fed slower than the rate (over the last ``batch_max_ms``) waits
for the deadline, a faster one is cut at ``batch_min_ms``, a slow insert makes the batches grow,
and while a fast table has nothing open the loop polls for at most a quarter of ``batch_min_ms``.

A small loop stands in for the load worker: every ``poll_s`` a poll brings what arrived (a
table's rows spread over its partitions), then ``tick``; a sealed group is inserted for
``insert_s`` — the loop blocked meanwhile, as the worker's synchronous insert — then ``done``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import pytest

from pipeline.codec import RecordType
from pipeline.dlq import DeadLetter
from pipeline.load.batch import Batch, Batcher
from tickwatch.clock import ManualClock
from tickwatch.settings import LoadSettings, load_settings
from tickwatch.types import TopicPartitionKey

TOPIC = "t.trades"
PARTITIONS = 6
STEP_S = 0.005
DEFAULTS: LoadSettings = load_settings().load


def batcher_for(
    clock: ManualClock, load: LoadSettings = DEFAULTS, scope: str = "table", cadence: bool = False
) -> Batcher:
    """The worker's batcher from ``load``; the cadence only with ``cadence`` (off here: these
    tests are about the early cut alone)."""
    batcher = Batcher(
        load.batch_max_rows,
        load.batch_max_ms,
        clock,
        load.batch_backlog_max_ms,
        min_ms=load.batch_min_ms,
        min_rows=load.batch_min_rows,
        scope=scope,
        min_rate=load.batch_min_rate,
        cadence_ms=load.batch_cadence_ms if cadence else 0,
        cadence_max_rate=load.batch_cadence_max_rate,
    )
    for partition in range(PARTITIONS):
        batcher.assign((TOPIC, partition), RecordType.TRADE, None)
    return batcher


@dataclass
class Feed:
    """``rate`` messages a second, handed out every ``poll_s`` (``chunks`` polls' worth at once,
    the consumer's fetches at a low rate), round robin over the partitions."""

    rate: float
    poll_s: float = 0.05
    chunks: int = 1
    sent: int = 0
    offsets: dict[int, int] = field(default_factory=dict)

    def poll(self, batcher: Batcher, now: float) -> None:
        due = int(self.rate * now)
        for _ in range(self.sent, due):
            partition = self.sent % PARTITIONS
            offset = self.offsets.get(partition, 0)
            key: TopicPartitionKey = (TOPIC, partition)
            batch = batcher.open_batch(key, offset)
            assert batch is not None
            batch.dead_letters.append(DeadLetter(*key, offset, 1, None, b"x", "malformed", "d"))
            batcher.added(key)
            self.offsets[partition] = offset + 1
            self.sent += 1


@dataclass
class Cut:
    at: float
    age: float  # of the oldest batch cut
    rows: int


def run(
    feed: Feed,
    seconds: float,
    insert_s: float = 0.0,
    backlogged: bool = False,
    *,
    pipelined: bool = False,
    make: Callable[[ManualClock], Batcher] = batcher_for,
) -> list[Cut]:
    """The worker's loop over ``seconds``; every cut, in order. ``pipelined``: the insert runs
    beside the loop (``load.inserts_in_flight`` > 0), which goes on polling; one group at a time.
    ``make``: the batcher on the loop's clock."""
    clock = ManualClock()
    batcher = make(clock)
    cuts: list[Cut] = []
    next_poll = feed.poll_s * feed.chunks
    in_flight: list[Batch] = []
    ends_at = 0.0
    while clock.monotonic() < seconds:
        now = clock.monotonic()
        if in_flight and now >= ends_at - 1e-9:
            for batch in in_flight:
                batcher.done(batch)
            in_flight = []
        if now >= next_poll - 1e-9:
            feed.poll(batcher, now)
            next_poll = now + feed.poll_s * feed.chunks
        batcher.tick(backlogged=backlogged)
        if not in_flight and (ready := batcher.ready()):
            cuts.append(Cut(now, max(now - b.opened_at for b in ready), sum(b.size for b in ready)))
            if pipelined:
                in_flight, ends_at = ready, now + insert_s
            else:
                clock.advance(insert_s)  # the insert blocks the loop; what arrives waits in Kafka
                for batch in ready:
                    batcher.done(batch)
        clock.advance(STEP_S)
    return cuts


def gaps(cuts: list[Cut]) -> list[float]:
    return [b.at - a.at for a, b in pairwise(cuts)]


@pytest.mark.parametrize("rate", [67, 133])  # quotes and trades at 200 simulator ticks/s
@pytest.mark.parametrize("chunks", [1, 2, 4])  # one poll every 50, 100 or 200 ms
def test_a_table_slower_than_the_rate_is_never_cut_early(rate: int, chunks: int) -> None:
    cuts = run(Feed(rate, chunks=chunks), 20.0)
    assert len(cuts) >= 15
    assert all(c.age >= DEFAULTS.batch_max_ms / 1000 - 1e-6 for c in cuts)  # the deadline only


def test_a_burst_at_the_idle_rate_is_not_cut_early() -> None:
    """A quarter of a second of trades at 133/s arriving in one poll (a stalled producer)."""
    cuts = run(Feed(133, chunks=5), 20.0)
    assert all(c.age >= DEFAULTS.batch_max_ms / 1000 - 1e-6 for c in cuts)


@pytest.mark.parametrize("rate", [333, 667, 6_667])  # quotes and trades at 1k, trades at 10k
def test_a_table_faster_than_the_rate_is_cut_at_the_minimum_age(rate: int) -> None:
    feed = Feed(rate)
    cuts = run(feed, 10.0)
    min_s = DEFAULTS.batch_min_ms / 1000
    assert len(cuts) >= 10 / (min_s + feed.poll_s) - 1
    assert all(min_s - 1e-6 <= g <= min_s + feed.poll_s for g in gaps(cuts))  # the next poll


def test_a_slow_insert_makes_the_batches_grow() -> None:
    """The next batch opens at the first poll after the insert, then waits batch_min_ms."""
    feed = Feed(667)
    cuts = run(feed, 10.0, insert_s=0.3)
    min_s = DEFAULTS.batch_min_ms / 1000
    assert all(0.3 + min_s <= g <= 0.3 + min_s + feed.poll_s + STEP_S for g in gaps(cuts))
    assert min(c.rows for c in cuts[1:]) >= 667 * (0.3 + min_s) - 40


@pytest.mark.parametrize("rate", [667, 6_667, 50_000])
def test_a_pipelined_slow_insert_is_followed_by_a_cut_as_it_ends(rate: int) -> None:
    """The loop polls on while the group is inserted: the next batch opened during the insert,
    is older than batch_min_ms when it ends and is cut then, holding what came meanwhile."""
    cuts = run(Feed(rate, poll_s=0.01), 10.0, insert_s=0.3, pipelined=True)
    assert len(cuts) >= 10 / (0.3 + 2 * STEP_S) - 1
    assert all(0.3 - 1e-6 <= g <= 0.3 + 2 * STEP_S for g in gaps(cuts))
    assert min(c.rows for c in cuts[1:]) >= rate * 0.3 * 0.95


@pytest.mark.parametrize("pipelined", [False, True])
@pytest.mark.parametrize("insert_s", [0.0, 0.05, 0.13])
def test_two_cuts_are_never_closer_than_the_minimum_age(insert_s: float, pipelined: bool) -> None:
    cuts = run(Feed(50_000, poll_s=0.01), 5.0, insert_s=insert_s, pipelined=pipelined)
    assert min(gaps(cuts)) >= DEFAULTS.batch_min_ms / 1000 - 1e-6


def test_a_consumer_behind_waits_for_the_backlog_age() -> None:
    cuts = run(Feed(6_667), 10.0, backlogged=True)
    backlog_s = DEFAULTS.batch_backlog_max_ms / 1000
    assert cuts
    assert all(c.age >= backlog_s - 1e-6 for c in cuts)


def test_the_deadline_closes_a_slow_table() -> None:
    cuts = run(Feed(5), 10.0)
    max_s = DEFAULTS.batch_max_ms / 1000
    assert all(c.age == pytest.approx(max_s, abs=STEP_S) for c in cuts)


def test_below_the_rate_due_in_points_at_the_deadline() -> None:
    clock = ManualClock()
    batcher = batcher_for(clock)
    clock.advance(0.2)
    Feed(133).poll(batcher, 0.2)  # 26 rows in 0.2 s since the assignment: 130/s < 250/s
    assert batcher.due_in() == pytest.approx(DEFAULTS.batch_max_ms / 1000)
    clock.advance(0.5)
    batcher.tick()
    assert batcher.due_in() == pytest.approx(DEFAULTS.batch_max_ms / 1000 - 0.5)


def test_above_the_rate_due_in_points_at_the_minimum_age() -> None:
    clock = ManualClock()
    batcher = batcher_for(clock)
    clock.advance(0.1)
    Feed(667).poll(batcher, 0.1)  # 66 rows in 0.1 s (counted over at least 0.12 s): 555/s
    assert batcher.due_in() == pytest.approx(DEFAULTS.batch_min_ms / 1000)


def test_a_fast_table_with_nothing_open_polls_a_quarter_of_the_minimum_age() -> None:
    clock = ManualClock()
    batcher = batcher_for(clock)
    clock.advance(0.1)
    Feed(667).poll(batcher, 0.1)
    clock.advance(DEFAULTS.batch_min_ms / 1000)
    batcher.tick()
    assert batcher.due_in() is None  # cut, in the insert path: nothing can be due
    for batch in batcher.ready():
        batcher.done(batch)
    assert batcher.due_in() == pytest.approx(DEFAULTS.batch_min_ms / 4000)  # nothing open


def test_a_slow_table_with_nothing_open_lets_the_poll_wait() -> None:
    clock = ManualClock()
    batcher = batcher_for(clock)
    clock.advance(0.05)
    Feed(133).poll(batcher, 0.05)
    clock.advance(DEFAULTS.batch_max_ms / 1000)
    batcher.tick()  # the deadline
    for batch in batcher.ready():
        batcher.done(batch)
    assert batcher.due_in() is None


def test_without_a_rate_the_floor_alone_applies() -> None:
    clock = ManualClock()
    load = load_settings(load={"batch_min_rate": 0}).load
    batcher = batcher_for(clock, load)
    Feed(133).poll(batcher, 0.2)  # 26 rows >= the default 20, at any rate
    assert batcher.due_in() == pytest.approx(load.batch_min_ms / 1000)
