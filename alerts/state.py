"""Per-(check, target) alert state: hysteresis, flap suppression, and the events they produce.

For each alert key, results arrive in time order and move one :class:`AlertState`:

* UNKNOWN results are ignored (state held): "could not measure" is not "healthy" nor "broken";
* a closed alert opens after ``open_after`` consecutive failing (WARN/CRIT) results;
* an open alert resolves after ``resolve_after`` consecutive OK results;
* while open, a different failing severity emits a SEVERITY event;
* flapping — at least ``flap_threshold`` OK↔failing transitions among the last ``flap_window``
  results — freezes opening and resolving until the status settles.
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

    def observe(self, r: CheckResult, policy: AlertPolicy) -> AlertEvent | None:
        """Feed one result; return the event it causes, if any."""
        if r.status is Status.UNKNOWN:
            return None
        self.last = r
        failing = r.status.failing
        self._count(failing, r.time)
        self.flapping = sum(a != b for a, b in pairwise(self.history)) >= policy.flap_threshold
        if not self.open:
            return self._maybe_open(r, policy)
        return self._while_open(r, policy)

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
