"""The detector's core loop, minus the scheduler: results in, alerts and emails out.

``on_results`` is called by each check's job (any scheduler thread); ``dispatch`` by a short
periodic job; ``flush`` by a slower one. None of them waits on SMTP (the outbox has its own
thread) and none raises when ClickHouse is down (writes stay buffered), so alerting keeps working
through a ClickHouse outage.

Durability: whenever the notifier accepted an event or the outbox was handed an email, the state
snapshot is written before ``on_results``/``dispatch`` return, and again after every delivery
(the outbox's ``on_change``); :meth:`Detector.final_dispatch` at SIGTERM sends the pending group
without waiting for its group wait. So an event the detector accepted is emailed even when the
process dies right after, at worst twice (same Message-ID) if it dies between send and save.

Inhibition (``alerts.inhibition``): events of checks whose dependency fails (or has not resolved
yet, or resolved less than the grace period ago) are recorded as ``inhibited`` and not announced;
the root cause's emails name them. The inhibitor follows every result and every event at the
detector's clock time, so a result that arrives late (its check was blocked on a hung server)
cannot end the inhibition before it began, nor leave the root cause's RESOLVE held for good.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

from loguru import logger

from alerts import snapshot
from alerts.book import AlertBook
from alerts.events import AlertEvent, EventKind
from alerts.inhibition import Inhibitor
from alerts.journal import Journal
from alerts.notifier import Notifier
from alerts.outbox import Outbox
from alerts.render import render
from tickwatch.buffer import BufferedWriter
from tickwatch.clock import WallClock
from tickwatch.telemetry.catalog import MonitorMetrics
from tickwatch.types import CheckResult, Status


class Detector:
    """Wires check results → health rows, alert state → events → grouped emails."""

    def __init__(
        self,
        book: AlertBook,
        notifier: Notifier,
        outbox: Outbox,
        *,
        health: BufferedWriter,
        journal: Journal,
        metrics: MonitorMetrics,
        clock: WallClock,
        grafana_url: str,
        snapshot_path: Path | None = None,
        inhibitor: Inhibitor | None = None,
    ) -> None:
        self.book, self.notifier, self.outbox = book, notifier, outbox
        self._health, self._journal, self._metrics = health, journal, metrics
        self._clock = clock
        self._grafana = grafana_url
        self._snapshot = snapshot_path
        self._lock = threading.RLock()
        self.inhibitor = inhibitor or Inhibitor(0.0)
        outbox.on_change = self.save

    def restore(self) -> int:
        """Load the previous process's open alerts, held events, inhibition state and unsent
        email; call before starting."""
        if self._snapshot is None:
            return 0
        with self._lock:
            restored = snapshot.restore(self._snapshot, self.book, self.notifier, self.outbox)
            try:
                self.inhibitor.restore_state(snapshot.load_extra(self._snapshot).get("inhibit", {}))
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                logger.warning("ignoring unreadable inhibition state: {}", exc)
            self.inhibitor.restore_open([(s.check, s.key) for s in self.book.open_alerts()])
            return restored

    def on_results(self, results: list[CheckResult]) -> None:
        """Record results, advance alert state, queue what must be announced. Never raises."""
        for r in results:
            self._health.add(r.row())
            self._metrics.check_run(r.check, r.target, r.status.name, r.duration)
        # Observe and submit in one critical section: a dispatch in between would find the alert
        # open but not yet announced and queue a REPEAT next to its own OPEN.
        with self._lock:
            self.inhibitor.observe(results, self._clock.time())
            if self._events(self.book.observe(results)):
                self.save()
            self._gauge_open()

    def dispatch(self) -> None:
        """Queue repeats that are due; hand a finished group to the outbox as one email."""
        self._dispatch(final=False)

    def final_dispatch(self) -> None:
        """At shutdown: hand what is pending to the outbox now (no group wait; the rate limit
        still holds back what it must, and that stays in the snapshot)."""
        self._dispatch(final=True)

    def _dispatch(self, *, final: bool) -> None:
        # Taking the group from the notifier, queueing it and saving the snapshot happen under
        # one lock: a snapshot never holds the group in neither place.
        with self._lock:
            now = self._clock.time()
            changed = self._events(self.book.expire())
            if released := self.inhibitor.release(now):  # journaled when they happened
                self.notifier.submit(released)
                changed = True
            open_now = [
                s for s in self.book.open_alerts() if not self.inhibitor.reason(s.check, now)
            ]
            changed |= self._events(self.notifier.repeats(open_now))
            group = self.notifier.flush(final=final)
            if group:
                n = render(group, self._grafana, now)
                logger.info("alert email queued: {}", n.subject)
                self.outbox.put(n)
            if changed or group:
                self.save()

    def save(self) -> None:
        """Write the state snapshot now (never raises)."""
        if self._snapshot is not None:
            with self._lock:
                extra = {"inhibit": self.inhibitor.state()}
                snapshot.save(self._snapshot, self.book, self.notifier, self.outbox, extra)

    def flush(self) -> None:
        """Save the alert state snapshot; write buffered health rows and alert history to
        ClickHouse (kept in memory while it is down)."""
        self.save()
        self._health.flush()
        self._journal.flush()

    def _events(self, events: list[AlertEvent]) -> bool:
        """Record ``events``, hand the announceable ones to the notifier; True if there were
        any (the caller then saves the snapshot)."""
        now = self._clock.time()
        wanted: list[AlertEvent] = []
        for e in events:
            self.inhibitor.follow(e, now)
            reason = self.inhibitor.inhibits(e, now)
            if reason is not None:
                self._inhibited(e, reason)
                continue
            announced = self.inhibitor.annotate(e)
            logger.info("alert {} {} {}: {}", e.kind.value, e.severity.name, e.key, e.message)
            self._journal.event(e)
            if announced is not None:
                wanted.append(announced)
        with self._lock:
            self.notifier.submit(wanted)
        return bool(events)

    def _inhibited(self, e: AlertEvent, reason: str) -> None:
        logger.info("alert {} {} inhibited: {}", e.kind.value, e.key, reason)
        message = f"{e.kind.value} inhibited: {reason}; {e.message}"
        self._journal.event(replace(e, kind=EventKind.INHIBITED, message=message))
        self._metrics.alert_inhibited(e.check)

    def _gauge_open(self) -> None:
        counts = Counter(s.severity.name for s in self.book.open_alerts())
        for severity in (Status.WARN, Status.CRIT):
            self._metrics.alerts_open(severity.name, counts.get(severity.name, 0))
