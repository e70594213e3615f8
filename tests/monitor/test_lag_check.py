"""The consumer-lag check over a fake offset source: per-topic verdict, seconds behind, details."""

from __future__ import annotations

from monitor.checks.lag import ConsumerLagCheck
from tickwatch.clock import ManualClock
from tickwatch.types import Status

from .monitor_fakes import FakeOffsets

TOPIC = "ticks.trades"


def make(offsets: FakeOffsets, clock: ManualClock) -> ConsumerLagCheck:
    return ConsumerLagCheck(
        offsets, "load", [TOPIC], window=3, warn_s=30, crit_s=120, interval_s=2, clock=clock
    )


def advance(offsets: FakeOffsets, clock: ManualClock, *, commit: bool) -> None:
    clock.advance(2)
    for tp in offsets.end:
        offsets.end[tp] += 100
        if commit:
            offsets.committed[tp] = offsets.end[tp] - 10
            offsets.times[tp] = clock.time() - 0.5


def test_healthy_group_is_ok_with_one_row_per_topic_and_partition() -> None:
    clock, offsets = ManualClock(), FakeOffsets(TOPIC, 2)
    check = make(offsets, clock)
    for _ in range(4):
        advance(offsets, clock, commit=True)
        results = check.run()
    topic_row, *details = results
    assert topic_row.check == "consumer_lag" and topic_row.target == f"load/{TOPIC}"
    assert topic_row.status is Status.OK and topic_row.alertable
    assert [d.target for d in details] == [f"load/{TOPIC}/0", f"load/{TOPIC}/1"]
    assert all(not d.alertable and d.value == 10 for d in details)
    assert "total lag 20 offsets" in topic_row.message


def test_commits_stopping_while_data_arrives_is_stalled_and_names_the_partitions() -> None:
    clock, offsets = ManualClock(), FakeOffsets(TOPIC, 2)
    check = make(offsets, clock)
    advance(offsets, clock, commit=True)
    check.run()
    statuses = []
    for _ in range(3):
        advance(offsets, clock, commit=False)
        statuses.append(check.run()[0].status)
    assert statuses == [Status.OK, Status.CRIT, Status.CRIT]  # 3 equal samples = a window
    row = check.run()[0]
    assert "p0: stalled" in row.message and "p1: stalled" in row.message
    assert row.value == 6.5  # seconds since the oldest unprocessed message


def test_group_without_members_is_stopped() -> None:
    clock, offsets = ManualClock(), FakeOffsets(TOPIC, 1)
    offsets.owners.clear()
    check = make(offsets, clock)
    advance(offsets, clock, commit=True)
    for _ in range(3):
        advance(offsets, clock, commit=False)
        row = check.run()[0]
    assert row.status is Status.CRIT and "stopped" in row.message


def test_seconds_behind_over_threshold_warns_even_when_offsets_move() -> None:
    clock, offsets = ManualClock(), FakeOffsets(TOPIC, 1)
    check = make(offsets, clock)
    advance(offsets, clock, commit=True)
    offsets.times[(TOPIC, 0)] = clock.time() - 45
    assert check.run()[0].status is Status.WARN


def test_partitions_never_committed_are_skipped() -> None:
    clock, offsets = ManualClock(), FakeOffsets(TOPIC, 1)
    offsets.committed[(TOPIC, 0)] = -1001
    assert make(offsets, clock).run() == []


class _CountingOffsets(FakeOffsets):
    """Counts the reads of the group's members."""

    def __init__(self, topic: str, partitions: int) -> None:
        super().__init__(topic, partitions)
        self.owner_reads = 0

    def owned(self, group: str) -> set[tuple[str, int]]:
        self.owner_reads += 1
        return super().owned(group)


def test_members_are_read_only_in_runs_where_a_window_is_static_and_lagging() -> None:
    clock, offsets = ManualClock(), _CountingOffsets(TOPIC, 2)
    check = make(offsets, clock)
    for _ in range(4):
        advance(offsets, clock, commit=True)
        assert check.run()[0].status is Status.OK
    assert offsets.owner_reads == 0  # a healthy group: no DescribeGroups at all
    for _ in range(3):
        advance(offsets, clock, commit=False)
        row = check.run()[0]
    assert row.status is Status.CRIT
    assert "p0: stalled" in row.message and "p1: stalled" in row.message
    assert offsets.owner_reads == 2  # once per run with static windows, not once per partition
