"""Per-(check, target) alert state: hysteresis, flap suppression, and the events they produce.

For each alert key, results arrive in time order and move one :class:`AlertState`:

* UNKNOWN results are ignored (state held): "could not measure" is not "healthy" nor "broken";
* a closed alert opens after ``open_after`` consecutive failing (WARN/CRIT) results;
* an open alert resolves after ``resolve_after`` consecutive OK results;
* while open, a different failing severity emits a SEVERITY event;
* flapping freezes opening and resolving until the status settles. Two detectors, so that an
  oscillation of any period is caught:

  - fast: at least ``flap_threshold`` OK↔failing transitions among the last ``flap_window``
    results (a few samples per period);
  - slow, in time, with hysteresis: it counts *changes* of the hysteresis-filtered state (the
    alert would open: ``open_after`` failing results in a row; would resolve: ``resolve_after``
    passing ones — whether or not flapping froze it), so a single odd sample never counts.
    Flapping starts when ``flap_start_changes`` changes fall within the last ``flap_window_s``
    seconds and ends only when at most ``flap_stop_changes`` do. Entering it emits one FLAPPING
    event (announced as a notice). A stable alert makes two changes per incident, so it opens
    and resolves exactly as without it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise

from alerts.events import AlertEvent, EventKind
from tickwatch.types import CheckResult, Status


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    open_after: int = 2
    resolve_after: int = 2
    flap_window: int = 10
    flap_threshold: int = 4
    stale_after_s: float = 600.0
    flap_window_s: float = 900.0
    flap_start_changes: int = 6
    flap_stop_changes: int = 2


@dataclass
class AlertState:
    """The live state of one alert key; mutated only by :meth:`observe`."""

    key: str
    check: str
    target: str
    history: deque[bool]
    open: bool = False
    severity: Status = Status.OK
    since: float = 0.0
    streak_start: float = 0.0
    bad_streak: int = 0
    good_streak: int = 0
    flapping: bool = False
    last: CheckResult | None = field(default=None)
    changes: deque[float] = field(default_factory=deque)  # times the filtered state changed
    would_be_open: bool = False  # the filtered state, flapping or not
    flapping_slow: bool = False

    def observe(self, r: CheckResult, policy: AlertPolicy) -> AlertEvent | None:
        """Feed one result; return the event it causes, if any."""
        if r.status is Status.UNKNOWN:
            return None
        self.last = r
        failing = r.status.failing
        self._count(failing, r.time)
        self._filtered_change(failing, r.time, policy)
        started = self._slow_flapping(r.time, policy)
        fast = sum(a != b for a, b in pairwise(self.history)) >= policy.flap_threshold
        self.flapping = fast or self.flapping_slow
        if started:
            return self._flapping_event(r, policy)
        if not self.open:
            return self._maybe_open(r, policy)
        return self._while_open(r, policy)

    def _filtered_change(self, failing: bool, when: float, policy: AlertPolicy) -> None:
        if not self.would_be_open and failing and self.bad_streak >= policy.open_after:
            self.would_be_open = True
            self.changes.append(when)
        elif self.would_be_open and not failing and self.good_streak >= policy.resolve_after:
            self.would_be_open = False
            self.changes.append(when)

    def _slow_flapping(self, now: float, policy: AlertPolicy) -> bool:
        """Update the time-window detector; True when flapping starts with this result."""
        while self.changes and now - self.changes[0] > policy.flap_window_s:
            self.changes.popleft()
        changes = len(self.changes)
        if not self.flapping_slow and changes >= policy.flap_start_changes:
            self.flapping_slow = True
            return True
        if self.flapping_slow and changes <= policy.flap_stop_changes:
            self.flapping_slow = False
        return False

    def _flapping_event(self, r: CheckResult, policy: AlertPolicy) -> AlertEvent:
        severity = r.status if r.status.failing else (self.severity if self.open else Status.WARN)
        state = "open" if self.open else "closed"
        message = (
            f"flapping: opened or resolved {len(self.changes)} times in the last "
            f"{policy.flap_window_s:.0f}s; the alert stays {state} until at most "
            f"{policy.flap_stop_changes} in {policy.flap_window_s:.0f}s; now: {r.message}"
        )
        return AlertEvent(
            r.time, self.key, self.check, self.target, EventKind.FLAPPING, severity,
            self.since if self.open else self.streak_start, r.value, r.threshold, message,
        )  # fmt: skip

    def _maybe_open(self, r: CheckResult, policy: AlertPolicy) -> AlertEvent | None:
        if r.status.failing and self.bad_streak >= policy.open_after and not self.flapping:
            self.open, self.severity, self.since = True, r.status, self.streak_start
            return self._event(r, EventKind.OPEN, r.status)
        return None

    def _while_open(self, r: CheckResult, policy: AlertPolicy) -> AlertEvent | None:
        if r.status.failing:
            if r.status != self.severity:
                previous, self.severity = self.severity, r.status
                return self._event(r, EventKind.SEVERITY, r.status, previous)
            return None
        if self.good_streak >= policy.resolve_after and not self.flapping:
            self.open, previous, self.severity = False, self.severity, Status.OK
            return self._event(r, EventKind.RESOLVE, Status.OK, previous)
        return None

    def _count(self, failing: bool, when: float) -> None:
        self.history.append(failing)
        if failing:
            if self.bad_streak == 0:
                self.streak_start = when
            self.bad_streak, self.good_streak = self.bad_streak + 1, 0
        else:
            self.bad_streak, self.good_streak = 0, self.good_streak + 1

    def _event(
        self, r: CheckResult, kind: EventKind, severity: Status, previous: Status = Status.OK
    ) -> AlertEvent:
        return AlertEvent(
            r.time,
            self.key,
            self.check,
            self.target,
            kind,
            severity,
            self.since,
            r.value,
            r.threshold,
            r.message,
            previous,
        )
