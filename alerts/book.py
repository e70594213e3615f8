"""All alert states of the detector, keyed by ``check/target``, and their expiry."""

from __future__ import annotations

import threading
from collections import deque

from alerts.events import AlertEvent, EventKind
from alerts.state import AlertPolicy, AlertState
from tickwatch.types import CheckResult, Status


class AlertBook:
    """All alert states, keyed by ``check/target``; thread-safe."""

    def __init__(self, policy: AlertPolicy) -> None:
        self.policy = policy
        self._states: dict[str, AlertState] = {}
        self._check_seen: dict[str, float] = {}  # newest measured (not UNKNOWN) result per check
        self._lock = threading.Lock()

    def observe(self, results: list[CheckResult]) -> list[AlertEvent]:
        """Feed results (non-alertable ones are skipped); return the events, in order."""
        events: list[AlertEvent] = []
        with self._lock:
            for r in results:
                if not r.alertable:
                    continue
                if r.status is not Status.UNKNOWN:
                    self._check_seen[r.check] = max(r.time, self._check_seen.get(r.check, r.time))
                state = self._states.get(r.key)
                if state is None:
                    state = AlertState(
                        r.key, r.check, r.target, deque(maxlen=self.policy.flap_window)
                    )
                    self._states[r.key] = state
                event = state.observe(r, self.policy)
                if event is not None:
                    events.append(event)
        return events

    def expire(self) -> list[AlertEvent]:
        """Resolve open alerts whose target their check stopped reporting.

        An open alert expires when its check has measured other targets for ``stale_after_s``
        since it last reported this one (a removed partition, a decommissioned worker, a
        renamed group); a check that measures nothing at all (its dependency is down) expires
        nothing.
        """
        events = []
        with self._lock:
            for key, s in list(self._states.items()):
                seen = self._check_seen.get(s.check)
                if not s.open or s.last is None or seen is None:
                    continue
                if seen - s.last.time > self.policy.stale_after_s:
                    del self._states[key]
                    last = s.last
                    events.append(AlertEvent(
                        seen, key, s.check, s.target, EventKind.RESOLVE, Status.OK, s.since,
                        last.value, last.threshold,
                        f"no longer reported by the {s.check} check; last: {last.message}",
                        s.severity,
                    ))  # fmt: skip
        return events

    def open_alerts(self) -> list[AlertState]:
        with self._lock:
            return [s for s in self._states.values() if s.open]

    def restore(self, state: AlertState) -> None:
        """Put back an open alert saved by a previous process (see ``alerts.snapshot``)."""
        state.bad_streak, state.would_be_open = self.policy.open_after, True
        state.history = deque([True] * self.policy.open_after, maxlen=self.policy.flap_window)
        with self._lock:
            self._states[state.key] = state

    def get(self, key: str) -> AlertState | None:
        with self._lock:
            return self._states.get(key)
