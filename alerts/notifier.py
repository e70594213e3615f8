"""Notification policy: what becomes an email, and when.

* OPEN is announced; RESOLVE only for alerts that were announced; SEVERITY only when it
  escalates an announced alert (WARN → CRIT); REPEAT every ``repeat_interval_s`` while open.
* Muted alerts (silence, maintenance window) are not announced; if still open when the mute
  ends, the next :meth:`Notifier.repeats` announces them.
* Events are grouped: the first pending event starts a ``group_wait_s`` timer, and everything
  submitted before it expires goes into the same email.
* At most ``max_per_hour`` emails per rolling hour: a group that would exceed it is held and
  keeps collecting events until the budget allows one email (events are never dropped, up to
  ``max_pending`` of them; beyond that the oldest go, and are counted). The sending history
  that the limit counts is part of :meth:`Notifier.state`, so a restart does not reset it.
* FLAPPING notices are announced like an OPEN (they do not change what was announced).
* Everything held here — the pending group, when it started, the rate-limit history — is in
  :meth:`Notifier.state`; the detector persists it before it acknowledges a submit, so an event
  accepted here reaches the outbox even if the process dies first (see ``alerts.snapshot``).

Not thread-safe by itself: the detector calls it under its own lock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alerts.events import AlertEvent, EventKind, event_from_dict
from alerts.muting import Muting
from alerts.state import AlertState
from tickwatch.clock import WallClock

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class NotifyPolicy:
    repeat_interval_s: float = 3600.0
    group_wait_s: float = 1.0
    max_per_hour: int = 30
    max_pending: int = 1000


class Notifier:
    def __init__(
        self,
        policy: NotifyPolicy,
        muting: Muting,
        clock: WallClock,
        on_muted: Callable[[AlertEvent, str], None] | None = None,
    ) -> None:
        self._policy, self._muting, self._clock = policy, muting, clock
        self._on_muted = on_muted
        self._announced: dict[str, float] = {}
        self._pending: deque[AlertEvent] = deque(maxlen=policy.max_pending)
        self._group_started: float | None = None
        self._sent: deque[float] = deque()
        self.dropped = 0

    def submit(self, events: list[AlertEvent]) -> None:
        """Queue what should be announced among ``events``."""
        now = self._clock.time()
        for event in events:
            if self._wanted(event, now):
                self._queue(event, now)

    def _wanted(self, e: AlertEvent, now: float) -> bool:
        announced = e.key in self._announced
        if e.kind is EventKind.RESOLVE:
            self._announced.pop(e.key, None)
            if not announced:
                return False  # never announced (muted or escalation-only): nothing to resolve
        elif e.kind is EventKind.INHIBITED or (
            e.kind is EventKind.SEVERITY and not (announced and e.escalation)
        ):
            return False
        reason = self._muting.reason(e.key, now)
        if reason is not None:
            if self._on_muted is not None:
                self._on_muted(e, reason)
            return False
        if e.kind not in (EventKind.RESOLVE, EventKind.FLAPPING):
            self._announced[e.key] = now
        return True

    def _queue(self, event: AlertEvent, now: float) -> None:
        if event.kind is EventKind.REPEAT and any(e.key == event.key for e in self._pending):
            return  # merged: the pending event already announces this alert
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(event)
        if self._group_started is None:
            self._group_started = now

    def repeats(self, open_alerts: list[AlertState]) -> list[AlertEvent]:
        """REPEAT events due now for open alerts (also first announcements after a mute)."""
        now = self._clock.time()
        due = []
        for s in open_alerts:
            last = self._announced.get(s.key)
            if s.last is None or (last is not None and now - last < self._policy.repeat_interval_s):
                continue
            if self._muting.reason(s.key, now) is None:
                r = s.last
                due.append(
                    AlertEvent(
                        now,
                        s.key,
                        s.check,
                        s.target,
                        EventKind.REPEAT,
                        s.severity,
                        s.since,
                        r.value,
                        r.threshold,
                        r.message,
                    )
                )
        return due

    def flush(self, *, final: bool = False) -> list[AlertEvent]:
        """The events of a group whose wait is over and that the rate limit allows; else [].

        ``final`` (at shutdown): do not wait for the group wait to end, there is nothing more
        to group; the rate limit still applies (what it holds stays in :meth:`state`).
        """
        now = self._clock.time()
        if self._group_started is None:
            return []
        if not final and now - self._group_started < self._policy.group_wait_s:
            return []
        while self._sent and now - self._sent[0] >= HOUR:
            self._sent.popleft()
        if len(self._sent) >= self._policy.max_per_hour:
            return []
        events = list(self._pending)
        self._pending.clear()
        self._group_started = None
        self._sent.append(now)
        return events

    def announced(self) -> dict[str, float]:
        """When each open alert was last announced (saved by the state snapshot)."""
        return dict(self._announced)

    def restore_announced(self, announced: dict[str, float]) -> None:
        self._announced.update(announced)

    def state(self) -> dict[str, Any]:
        """What this notifier holds, JSON-ready: pending events, group start, sending history."""
        return {
            "pending": [e.to_dict() for e in self._pending],
            "group_started": self._group_started,
            "sent": list(self._sent),
        }

    def restore_state(self, raw: dict[str, Any]) -> None:
        """Put back :meth:`state` of a previous process. Raises KeyError/ValueError/TypeError."""
        pending = [event_from_dict(e) for e in raw.get("pending", [])]
        started = raw.get("group_started")
        self._sent.extend(float(t) for t in raw.get("sent", []))
        for event in pending:
            self._queue(event, float(started) if started is not None else self._clock.time())
        if started is not None and self._group_started is not None:
            self._group_started = float(started)

    @property
    def pending(self) -> int:
        return len(self._pending)
