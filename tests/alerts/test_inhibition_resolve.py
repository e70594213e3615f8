"""A root cause's RESOLVE held by the inhibition is never lost, and its dependants stay inhibited
until it has resolved (issue 12, the ``clickhouse-hung-30s`` fault).

Seen in the fault matrix on a loaded machine: the ``clickhouse_reachable`` check that was blocked
on the hung server came back with OK stamped when it *began* (more than the grace period
earlier), so the grace period was already over when the detector saw the recovery; the inhibitor
forgot the parent at the next dispatch, the consumer-lag alerts opened under the inhibition went
out as STILL FIRING, and the parent's RESOLVE, produced one result later, was held with no grace
period left to end: never emailed. The same happens whenever the parent's alert resolves more
than the grace period after its first passing result (``resolve_after`` results, a flapping
freeze). Injected clock, in-memory mailbox; no sleeps, no timings.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

from alerts.events import AlertEvent, EventKind
from alerts.inhibition import Inhibitor
from monitor.checks.base import DEPENDS_ON
from monitor.detector import Detector
from tickwatch.clock import ManualClock
from tickwatch.types import CheckResult, Status

from .alert_helpers import wait_until
from .detector_scenarios import Mailbox, make_detector, restart, sigterm

TARGET = "http://ch:8123"
CH = f"clickhouse_reachable/{TARGET}"
LAG = "consumer_lag/load/trades"


def detector(tmp_path: Path, box: Mailbox, clock: ManualClock, **alerts: Any) -> Detector:
    d, _ = make_detector(tmp_path, box, clock, inhibit_grace_s=10, **alerts)
    d.inhibitor.declare(DEPENDS_ON)
    return d


def tick(
    d: Detector, clock: ManualClock, ch: Status, lag: Status, *, ch_began_s_ago: float = 0.0
) -> None:
    """One second: a reachability result (measured from ``ch_began_s_ago`` seconds ago, as a
    check blocked on a hung server reports it) and a lag result, then a dispatch."""
    clock.advance(1)
    now = clock.time()
    d.on_results([
        CheckResult(now - ch_began_s_ago, "clickhouse_reachable", TARGET, ch, 0, 0, ch.name),
        CheckResult(now, "consumer_lag", "load/trades", lag, 5.0, 1.0, f"lag {lag.name}"),
    ])  # fmt: skip
    d.dispatch()


def announced(box: Mailbox) -> list[tuple[str, str]]:
    """(key, verb) of every event in every email sent."""
    out = []
    for n in box.sent:
        lines = n.text.splitlines()
        out += [
            (key.strip(), status.split()[1])
            for key, status in pairwise(lines)
            if status.startswith("  status") and not key.startswith(" ")
        ]
    return out


def run(d: Detector, clock: ManualClock, box: Mailbox, steps: list[tuple[Status, Status]],
        *, hung_s: float = 0.0, emails: int = 2) -> list[tuple[str, str]]:  # fmt: skip
    """Healthy, ClickHouse hung (the lag alert opens, inhibited), then ``steps``; the first
    passing reachability result is ``hung_s`` old when it arrives."""
    d.outbox.start()
    try:
        for _ in range(3):
            tick(d, clock, Status.OK, Status.OK)
        for _ in range(20):
            tick(d, clock, Status.CRIT, Status.CRIT)
        first, *rest = steps
        tick(d, clock, *first, ch_began_s_ago=hung_s)
        for step in rest:
            tick(d, clock, *step)
        for _ in range(30):
            tick(d, clock, Status.OK, Status.OK)
        wait_until(lambda: d.outbox.pending == 0 and len(box.sent) >= emails)
    finally:
        sigterm(d)
    return announced(box)


def test_a_recovery_reported_late_by_a_hung_check_still_sends_the_resolve(tmp_path: Path) -> None:
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    d = detector(tmp_path, box, clock)
    # the check began 15 s ago (server stopped), got its answer now; the lag needs a few more
    # seconds to drain after that
    steps = [(Status.OK, Status.CRIT)] * 4
    got = run(d, clock, box, steps, hung_s=15.0)
    assert got == [(CH, "FIRING"), (CH, "RESOLVED")]
    assert d.book.open_alerts() == []


def test_a_resolve_later_than_the_grace_after_the_first_pass_is_sent(tmp_path: Path) -> None:
    """``resolve_after`` = 15 passing results at 1 s: the alert resolves 14 s after the first
    one, past the 10-s grace; the lag alert (which resolves 16 s after it) stays inhibited until
    the RESOLVE and its grace."""
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    d = detector(tmp_path, box, clock, resolve_after=15)
    steps = [(Status.OK, Status.CRIT)] * 2 + [(Status.OK, Status.OK)] * 14
    got = run(d, clock, box, steps)
    assert got == [(CH, "FIRING"), (CH, "RESOLVED")]


def test_a_dependant_failing_past_the_grace_is_announced_with_the_resolve(tmp_path: Path) -> None:
    """The designed behaviour stays: a dependant still failing when the inhibition ends (the
    RESOLVE's grace) is announced, in the same email as the root cause's RESOLVE."""
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    d = detector(tmp_path, box, clock)
    steps = [(Status.OK, Status.CRIT)] * 14
    got = run(d, clock, box, steps, hung_s=15.0, emails=3)
    assert got[:3] == [(CH, "FIRING"), (CH, "RESOLVED"), (LAG, "STILL")]
    assert got[3:] == [(LAG, "RESOLVED")]
    assert LAG in box.sent[1].alert_keys and CH in box.sent[1].alert_keys


def test_a_restart_during_the_outage_keeps_the_parent_open_and_inhibiting(tmp_path: Path) -> None:
    """The next process knows the parent's alert is open from the restored alert book: its
    dependants stay inhibited until it resolves, and its RESOLVE is emailed."""
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    first = detector(tmp_path, box, clock)
    first.outbox.start()
    for _ in range(20):
        tick(first, clock, Status.CRIT, Status.CRIT)
    wait_until(lambda: len(box.sent) == 1)
    first.outbox.stop(0.5)  # crash
    second, _ = restart(tmp_path, box, clock, inhibit_grace_s=10, resolve_after=15)
    second.inhibitor.declare(DEPENDS_ON)
    second.outbox.start()
    try:
        for step in [(Status.OK, Status.CRIT)] * 2 + [(Status.OK, Status.OK)] * 40:
            tick(second, clock, *step)
        wait_until(lambda: second.outbox.pending == 0 and len(box.sent) >= 2)
    finally:
        sigterm(second)
    assert announced(box) == [(CH, "FIRING"), (CH, "RESOLVED")]


def held_resolve(time: float) -> AlertEvent:
    return AlertEvent(time, CH, "clickhouse_reachable", TARGET, EventKind.RESOLVE, Status.OK,
                      time - 60, 1.0, 0.0, "answering", Status.CRIT)  # fmt: skip


def test_a_held_resolve_without_a_recovery_time_is_released() -> None:
    """A snapshot written by the previous version can hold a RESOLVE the inhibitor had already
    forgotten the parent for (no recovery time): it goes out at the next release."""
    inhibitor = Inhibitor(10.0)
    inhibitor.declare(DEPENDS_ON)
    raw = inhibitor.state()
    raw["clickhouse_reachable"] |= {"held": [held_resolve(1000.0).to_dict()]}
    inhibitor.restore_state(raw)
    released = inhibitor.release(1001.0)
    assert [(e.key, e.kind) for e in released] == [(CH, EventKind.RESOLVE)]
    assert inhibitor.state()["clickhouse_reachable"]["held"] == []


def test_an_open_parent_alert_keeps_inhibiting_until_it_resolves() -> None:
    """Passing results alone do not end the inhibition while the parent's alert is open."""
    inhibitor = Inhibitor(10.0)
    inhibitor.declare(DEPENDS_ON)
    ok = CheckResult(1000.0, "clickhouse_reachable", TARGET, Status.OK, 1, 0, "ok")
    crit = CheckResult(990.0, "clickhouse_reachable", TARGET, Status.CRIT, 0, 0, "down")
    inhibitor.observe([crit], 990.0)
    opened = AlertEvent(990.0, CH, "clickhouse_reachable", TARGET, EventKind.OPEN, Status.CRIT,
                        985.0, 0.0, 0.0, "down")  # fmt: skip
    inhibitor.follow(opened, 990.0)
    inhibitor.restore_state(inhibitor.state())  # as a restart restores it, with the alert book
    inhibitor.restore_open([("clickhouse_reachable", CH)])
    inhibitor.observe([ok], 1000.0)
    assert inhibitor.release(2000.0) == []
    assert inhibitor.reason("consumer_lag", 2000.0) is not None
    inhibitor.follow(held_resolve(2000.0), 2000.0)
    assert inhibitor.annotate(held_resolve(2000.0)) is None  # held for the grace period
    assert inhibitor.reason("consumer_lag", 2009.0) is not None
    assert [e.kind for e in inhibitor.release(2010.0)] == [EventKind.RESOLVE]
    assert inhibitor.reason("consumer_lag", 2010.0) is None
