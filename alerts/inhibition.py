"""Dependency-aware alerting: while a check that others depend on is failing, and for
``grace_s`` after it recovers, the alerts of its dependants are inhibited (after Alertmanager's
inhibition rules).

Each check declares the checks it depends on (``depends_on``, e.g. ``heartbeat`` →
``clickhouse_reachable``); :meth:`Inhibitor.declare` takes that map. Then:

* a parent is *active* from its first WARN/CRIT result (before its own alert opens) until it has
  recovered: its latest result passes *and* none of its alerts is open (an open alert resolves
  only after ``resolve_after`` passing results, or later while it flaps). UNKNOWN changes
  nothing. It *recovered* when the detector saw that (the ``now`` of :meth:`observe` or
  :meth:`follow`), not when the last result began: a check that was blocked on a hung server
  reports a measurement begun long before its answer came;
* an OPEN, REPEAT, SEVERITY or FLAPPING event of a dependant is inhibited while any parent is
  active or recovered less than ``grace_s`` ago: it is recorded (``ops.alert_events``, event
  ``inhibited``) but not announced. A RESOLVE is never inhibited (a resolve is never lost; the
  notifier drops it when its OPEN was never announced). A dependant still failing when the
  inhibition ends is announced then, like an alert whose silence ended;
* the parent's OPEN email names the dependants it inhibits (the root cause); its RESOLVE is held
  until the grace period ends and then lists every alert that was inhibited meanwhile. The
  RESOLVE itself ends the parent's activity, so a held RESOLVE always has a grace period that
  ends (and one held without a recovery time, from an older snapshot, is released at once).

All state is in :meth:`Inhibitor.state` (saved in the detector's snapshot). Not thread-safe by
itself: the detector calls it under its own lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from alerts.events import AlertEvent, EventKind, event_from_dict
from tickwatch.types import CheckResult, Status


@dataclass
class ParentState:
    """One parent check: failing now?, its open alerts, when it recovered, what it inhibited."""

    failing: bool = False
    root: str = ""  # the alert key of the failing parent result
    recovered_at: float | None = None
    inhibited: dict[str, str] = field(default_factory=dict)  # child key -> last event kind
    held: list[AlertEvent] = field(default_factory=list)  # the parent's RESOLVE, until grace ends
    open: set[str] = field(default_factory=set)  # the parent's alert keys opened, not resolved

    @property
    def active(self) -> bool:
        """Failing, or its alert not resolved yet: its dependants are inhibited."""
        return self.failing or bool(self.open)


class Inhibitor:
    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self._depends: dict[str, tuple[str, ...]] = {}
        self._parents: dict[str, ParentState] = {}
        self._released: list[AlertEvent] = []

    def declare(self, depends: dict[str, tuple[str, ...]]) -> None:
        """``check name -> the check names it depends on``; checks not named depend on nothing."""
        self._depends = {child: tuple(p) for child, p in depends.items() if p}
        for parents in self._depends.values():
            for parent in parents:
                self._parents.setdefault(parent, ParentState())

    def dependants(self, parent: str) -> list[str]:
        return sorted(c for c, parents in self._depends.items() if parent in parents)

    def observe(self, results: list[CheckResult], now: float) -> None:
        """Follow the parents' results, seen at ``now`` (call before the results' events are
        handled)."""
        for r in results:
            state = self._parents.get(r.check)
            if state is None or not r.alertable or r.status is Status.UNKNOWN:
                continue
            if r.status.failing:
                if not state.active and state.recovered_at is None:
                    state.inhibited = {}
                state.failing, state.root = True, r.key
                self._released.extend(self._mention(state, state.held))  # failing again
                state.held = []
            elif state.failing:
                state.failing = False
                self._maybe_recovered(state, now)

    def follow(self, event: AlertEvent, now: float) -> None:
        """Follow the parents' alerts (every event, inhibited or not, before it is handled): an
        OPEN keeps the parent active until its RESOLVE, which is when it recovered."""
        state = self._parents.get(event.check)
        if state is None:
            return
        if event.kind is EventKind.OPEN:
            state.open.add(event.key)
            state.root = event.key
        elif event.kind is EventKind.RESOLVE and event.key in state.open:
            state.open.discard(event.key)
            self._maybe_recovered(state, now)

    def _maybe_recovered(self, state: ParentState, now: float) -> None:
        if not state.active:
            state.recovered_at = now

    def reason(self, check: str, now: float) -> str | None:
        """Why alerts of ``check`` are inhibited at ``now``, or None."""
        for parent in self._depends.get(check, ()):
            state = self._parents[parent]
            if state.failing:
                return f"{state.root} is failing"
            if state.open:
                return f"{state.root} has not resolved yet"
            if state.recovered_at is not None and now - state.recovered_at < self.grace_s:
                ago = now - state.recovered_at
                return f"{state.root} recovered {ago:.0f}s ago (grace {self.grace_s:.0f}s)"
        return None

    def inhibits(self, event: AlertEvent, now: float) -> str | None:
        """The reason ``event`` must not be announced (and remember it), or None."""
        if event.kind is EventKind.RESOLVE:
            return None
        reason = self.reason(event.check, now)
        if reason is not None:
            for parent in self._depends.get(event.check, ()):
                self._parents[parent].inhibited[event.key] = event.kind.value
        return reason

    def annotate(self, event: AlertEvent) -> AlertEvent | None:
        """A parent's event as it should be announced; None when it is held (its RESOLVE)."""
        state = self._parents.get(event.check)
        if state is None:
            return event
        if event.kind is EventKind.OPEN:
            children = ", ".join(self.dependants(event.check))
            return replace(event, message=f"{event.message}; root cause: alerts of the checks "
                           f"that depend on it are inhibited ({children})")  # fmt: skip
        if event.kind is EventKind.RESOLVE and self.grace_s > 0:
            state.held.append(event)
            return None
        return event

    def release(self, now: float) -> list[AlertEvent]:
        """Held parent RESOLVEs whose grace period is over, listing what was inhibited.

        A parent that is no longer active and has no recovery time (its state came from an
        older snapshot) has no grace period to wait for: what it holds goes now."""
        out, self._released = self._released, []
        for state in self._parents.values():
            if state.active:
                continue
            since = state.recovered_at
            if since is None or now - since >= self.grace_s:
                out.extend(self._mention(state, state.held))
                state.held, state.inhibited, state.recovered_at = [], {}, None
        return out

    def _mention(self, state: ParentState, events: list[AlertEvent]) -> list[AlertEvent]:
        listed = ", ".join(f"{k} ({v})" for k, v in sorted(state.inhibited.items())) or "none"
        return [replace(e, message=f"{e.message}; inhibited meanwhile: {listed}") for e in events]

    def state(self) -> dict[str, Any]:
        """JSON-ready state, for the detector's snapshot."""
        return {
            name: {"failing": s.failing, "root": s.root, "recovered_at": s.recovered_at,
                   "inhibited": s.inhibited, "held": [e.to_dict() for e in s.held]}
            for name, s in self._parents.items()
        }  # fmt: skip

    def restore_open(self, open_alerts: list[tuple[str, str]]) -> None:
        """Which parent alerts are open, as ``(check, key)`` of the restored alert book (its
        snapshot is the one record of that; call after :meth:`restore_state`)."""
        for state in self._parents.values():
            state.open.clear()
        for check, key in open_alerts:
            if check in self._parents:
                self._parents[check].open.add(key)

    def restore_state(self, raw: dict[str, Any]) -> None:
        """Put back :meth:`state`; raises KeyError/ValueError/TypeError on a bad one."""
        for name, item in raw.items():
            self._parents[str(name)] = ParentState(
                bool(item["failing"]), str(item["root"]),
                None if item["recovered_at"] is None else float(item["recovered_at"]),
                {str(k): str(v) for k, v in item["inhibited"].items()},
                [event_from_dict(e) for e in item["held"]],
            )  # fmt: skip
