"""The detector's view, assembled for the page and the API from in-memory state and history.

In-memory (always there): the check board, the open alerts of the alert book, the mutes.
From ClickHouse (may be down): uptime bars, incident timelines, emails, the insert rate. When
ClickHouse cannot answer, the history parts are empty and ``history_available`` is False.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from loguru import logger

from alerts.book import AlertBook
from alerts.errors import AlertError
from alerts.muting import Muting
from alerts.silence_store import SilenceStore
from alerts.silences import Silence
from alerts.windows import DAYS, MaintenanceWindow
from monitor.status import models as m
from monitor.status.board import CheckBoard
from monitor.status.history import History, NotificationRow, Slot
from monitor.status.incidents import Incident, build_incidents
from tickwatch.clock import WallClock, utc
from tickwatch.errors import ServiceUnavailable
from tickwatch.types import Status

LAG_CHECK, LATENCY_CHECK = "consumer_lag", "latency_p99"
RESOLVED_ON_PAGE = 20  # the page lists every open incident and the newest resolved ones


@dataclass(frozen=True)
class Mutes:
    """Every source of muting: configured silences and weekly windows, and the stores the CLI
    and the API write (silences, one-off maintenance windows)."""

    configured: list[Silence]
    weekly: list[MaintenanceWindow]
    silences: SilenceStore
    maintenance: SilenceStore

    def muting(self) -> Muting:
        """The same answer the notifier gets (it reads the same sources)."""
        return Muting(self.configured, self.weekly, self.silences, self.maintenance)


@dataclass
class Snapshot:
    """Everything the page shows, read once per request."""

    summary: m.SummaryOut
    checks: list[m.CheckOut]
    alerts: list[m.AlertOut]
    incidents: list[Incident]
    silences: list[m.SilenceOut]
    maintenance: m.MaintenanceOut
    uptime: dict[str, list[Slot]] = field(default_factory=dict)
    history_error: str = ""
    older_resolved: int = 0  # resolved incidents left off the page (all are in the API)


class StatusView:
    def __init__(
        self,
        board: CheckBoard,
        book: AlertBook,
        history: History,
        mutes: Mutes,
        clock: WallClock,
        *,
        uptime_hours: int = 24,
        writes_enabled: bool = False,
    ) -> None:
        self.board, self.book, self.history, self.mutes = board, book, history, mutes
        self._clock, self.uptime_hours, self._writes = clock, uptime_hours, writes_enabled

    def checks(self) -> list[m.CheckOut]:
        return [
            m.CheckOut(key=s.key, check=s.result.check, target=s.result.target,
                       status=s.result.status.name, since=utc(s.since),
                       measured_at=utc(s.result.time), value=s.result.value,
                       threshold=s.result.threshold, message=s.result.message)
            for s in self.board.states()
        ]  # fmt: skip

    def alerts(self) -> list[m.AlertOut]:
        now, muting = self._clock.time(), self.mutes.muting()
        return [
            m.AlertOut(key=a.key, check=a.check, target=a.target, severity=a.severity.name,
                       since=utc(a.since), flapping=a.flapping, muted=muting.reason(a.key, now),
                       message=a.last.message if a.last else "")
            for a in sorted(self.book.open_alerts(), key=lambda a: a.since)
        ]  # fmt: skip

    def incidents(self) -> tuple[list[Incident], list[NotificationRow], str]:
        """Incidents of the uptime window, its notifications, and a history error (or "")."""
        now = self._clock.time()
        start = now - self.uptime_hours * 3600.0
        try:
            events, notes = self.history.events(start), self.history.notifications(start)
            error = ""
        except ServiceUnavailable as exc:
            events, notes, error = [], [], str(exc)
        return build_incidents(events, notes, self.book.open_alerts(), now), notes, error

    def silences(self) -> list[m.SilenceOut]:
        now = self._clock.time()
        stored = [(s, "stored") for s in _load(self.mutes.silences) if s.ends > now]
        configured = [(s, "config") for s in self.mutes.configured if s.ends > now]
        return [_silence(s, source) for s, source in stored + configured]

    def maintenance(self) -> m.MaintenanceOut:
        now = self._clock.time()
        opened = [_silence(s, "stored") for s in _load(self.mutes.maintenance) if s.ends > now]
        weekly = [m.WeeklyWindowOut(schedule=_schedule(w), matcher=w.matcher,
                                    active=_in_window(w, now))
                  for w in self.mutes.weekly]  # fmt: skip
        return m.MaintenanceOut(windows=opened, weekly=weekly)

    def snapshot(self) -> Snapshot:
        """The whole page's data (the history queries run here)."""
        now = self._clock.time()
        checks = self.checks()
        incidents, notes, error = self.incidents()
        uptime: dict[str, list[Slot]] = {}
        rate: float | None = None
        if not error:
            try:
                names = sorted({c.check for c in checks})
                uptime = self.history.uptime(names, now - self.uptime_hours * 3600.0, now)
                rate = self.history.ticks_per_second(now)
            except ServiceUnavailable as exc:
                error = str(exc)
        sent = None if error else sum(1 for n in notes if n.status == "sent")
        summary = self._summary(checks, rate, sent, not error)
        shown = [i for i in incidents if i.open]
        resolved = [i for i in incidents if not i.open]
        shown += resolved[:RESOLVED_ON_PAGE]
        shown.sort(key=lambda i: i.opened, reverse=True)
        older = max(0, len(resolved) - RESOLVED_ON_PAGE)
        return Snapshot(summary, checks, self.alerts(), shown, self.silences(),
                        self.maintenance(), uptime, error, older)  # fmt: skip

    def summary(self) -> m.SummaryOut:
        return self.snapshot().summary

    def _summary(
        self, checks: list[m.CheckOut], rate: float | None, sent: int | None, history: bool
    ) -> m.SummaryOut:
        lag = [r.value for r in self.board.latest(LAG_CHECK) if r.status is not Status.UNKNOWN]
        e2e = [r.value for r in self.board.latest(LATENCY_CHECK) if r.status is not Status.UNKNOWN]
        return m.SummaryOut(
            time=utc(self._clock.time()),
            ticks_per_second=rate,
            lag_messages=sum(lag) if lag else None,
            e2e_p99_seconds=max(e2e) if e2e else None,
            checks=dict(Counter(c.status for c in checks)),
            open_alerts=len(self.book.open_alerts()),
            emails_sent_24h=sent,
            history_available=history,
            writes_enabled=self._writes,
        )


def _load(store: SilenceStore) -> list[Silence]:
    """The store's entries; an unreadable file is logged and shown as empty, as muting does."""
    try:
        return store.load()
    except AlertError as exc:
        logger.warning("status page: {}", exc)
        return []


def _silence(s: Silence, source: str) -> m.SilenceOut:
    return m.SilenceOut(id=s.id or "-", matcher=s.matcher, starts=utc(s.starts), ends=utc(s.ends),
                        comment=s.comment, created_by=s.created_by,
                        source=source)  # fmt: skip


def _schedule(w: MaintenanceWindow) -> str:
    days = ",".join(DAYS[d].title() for d in sorted(w.days))
    a, b = w.start_min, w.end_min
    return f"{days} {a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d} {w.tz}"


def _in_window(w: MaintenanceWindow, now: float) -> bool:
    """Is the window's time span on now (whatever the matcher)?"""
    return MaintenanceWindow(w.days, w.start_min, w.end_min, w.tz, "*").active("x", now)
