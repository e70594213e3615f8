"""The detector's core loop, minus the scheduler: results in, alerts and emails out.

``on_results`` is called by each check's job (any scheduler thread); ``dispatch`` by a short
periodic job; ``flush`` by a slower one. None of them waits on SMTP (the outbox has its own
thread) and none raises when ClickHouse is down (writes stay buffered), so alerting keeps working
through a ClickHouse outage.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from loguru import logger

from alerts import snapshot
from alerts.book import AlertBook
from alerts.events import AlertEvent
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
    ) -> None:
        self.book, self.notifier, self.outbox = book, notifier, outbox
        self._health, self._journal, self._metrics = health, journal, metrics
        self._clock = clock
        self._grafana = grafana_url
        self._snapshot = snapshot_path
        self._lock = threading.RLock()

    def restore(self) -> int:
        """Load the previous process's open alerts and unsent email; call before starting."""
        if self._snapshot is None:
            return 0
        with self._lock:
            return snapshot.restore(self._snapshot, self.book, self.notifier, self.outbox)

    def on_results(self, results: list[CheckResult]) -> None:
        """Record results, advance alert state, queue what must be announced. Never raises."""
        for r in results:
            self._health.add(r.row())
            self._metrics.check_run(r.check, r.target, r.status.name, r.duration)
        # Observe and submit in one critical section: a dispatch in between would find the alert
        # open but not yet announced and queue a REPEAT next to its own OPEN.
        with self._lock:
            self._events(self.book.observe(results))
            self._gauge_open()

    def dispatch(self) -> None:
        """Queue repeats that are due; hand a finished group to the outbox as one email."""
        with self._lock:
            self._events(self.book.expire())
            self._events(self.notifier.repeats(self.book.open_alerts()))
            group = self.notifier.flush()
        if group:
            n = render(group, self._grafana, self._clock.time())
            logger.info("alert email queued: {}", n.subject)
            self.outbox.put(n)

    def flush(self) -> None:
        """Save the alert state snapshot; write buffered health rows and alert history to
        ClickHouse (kept in memory while it is down)."""
        if self._snapshot is not None:
            with self._lock:
                snapshot.save(self._snapshot, self.book, self.notifier, self.outbox)
        self._health.flush()
        self._journal.flush()

    def _events(self, events: list[AlertEvent]) -> None:
        for e in events:
            logger.info("alert {} {} {}: {}", e.kind.value, e.severity.name, e.key, e.message)
            self._journal.event(e)
        with self._lock:
            self.notifier.submit(events)

    def _gauge_open(self) -> None:
        counts = Counter(s.severity.name for s in self.book.open_alerts())
        for severity in (Status.WARN, Status.CRIT):
            self._metrics.alerts_open(severity.name, counts.get(severity.name, 0))
