"""What the status page reads from ClickHouse: uptime per check, alert history, notifications,
and the insert rate. Every query is parameterised and bounded by a time window; every method
raises :class:`~tickwatch.errors.ServiceUnavailable` when ClickHouse cannot answer (the page then
shows the detector's in-memory view and says that history is unavailable).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import utc

SLOTS = 48  # uptime bar segments per window
RATE_WINDOW_S = 60.0
_SINCE = "{since:DateTime64(3, 'UTC')}"


@dataclass(frozen=True, slots=True)
class Slot:
    """Counts of measured results of one check in one segment of the uptime bar."""

    ok: int = 0
    warn: int = 0
    crit: int = 0

    @property
    def measured(self) -> int:
        return self.ok + self.warn + self.crit


@dataclass(frozen=True, slots=True)
class EventRow:
    time: float
    key: str
    kind: str
    severity: str
    since: float
    message: str


@dataclass(frozen=True, slots=True)
class NotificationRow:
    time: float
    subject: str
    keys: tuple[str, ...]
    status: str
    error: str


class History:
    """Reads of ``ops.health_checks``, ``ops.alert_events``, ``ops.notifications`` and the
    market tables' ``inserted_at``."""

    def __init__(self, ch: ClickHouseHandle, ops_db: str, market_db: str) -> None:
        self._ch, self._ops, self._market = ch, ops_db, market_db

    def uptime(self, checks: list[str], start: float, end: float) -> dict[str, list[Slot]]:
        """Per check, :data:`SLOTS` segments from ``start`` to ``end`` (UNKNOWN not counted)."""
        if not checks:
            return {}
        width = max(1.0, (end - start) / SLOTS)
        sql = (
            "SELECT check, toUInt32(intDiv(toUnixTimestamp64Milli(time) - {start_ms:Int64}, "
            "{width_ms:Int64})) AS slot, countIf(status = 'OK'), countIf(status = 'WARN'), "
            f"countIf(status = 'CRIT') FROM {self._ops}.health_checks WHERE time >= {_SINCE} "
            "AND check IN {checks:Array(String)} GROUP BY check, slot"
        )
        params = {"start_ms": int(start * 1000), "width_ms": int(width * 1000),
                  "since": utc(start), "checks": checks}  # fmt: skip
        bars = {c: [Slot()] * SLOTS for c in checks}
        for check, slot, ok, warn, crit in self._ch.rows(sql, params):
            if 0 <= int(slot) < SLOTS:
                bars[str(check)][int(slot)] = Slot(int(ok), int(warn), int(crit))
        return bars

    def events(self, start: float) -> list[EventRow]:
        """Alert lifecycle events since ``start``, oldest first."""
        sql = (
            "SELECT time, alert_key, toString(event), toString(severity), since, message "
            f"FROM {self._ops}.alert_events WHERE time >= {_SINCE} ORDER BY time, event"
        )
        return [
            EventRow(_epoch(t), str(k), str(e), str(s), _epoch(since), str(m))
            for t, k, e, s, since, m in self._ch.rows(sql, {"since": utc(start)})
        ]

    def notifications(self, start: float) -> list[NotificationRow]:
        """Notification attempts since ``start`` (sent, retrying, failed, suppressed)."""
        sql = (
            "SELECT time, subject, alert_keys, toString(status), error "
            f"FROM {self._ops}.notifications WHERE time >= {_SINCE} ORDER BY time"
        )
        return [
            NotificationRow(_epoch(t), str(subj), tuple(keys), str(st), str(err))
            for t, subj, keys, st, err in self._ch.rows(sql, {"since": utc(start)})
        ]

    def ticks_per_second(self, now: float) -> float:
        """Trades and quotes inserted per second over the last :data:`RATE_WINDOW_S`."""
        since = {"since": utc(now - RATE_WINDOW_S)}
        total = 0
        for table in ("trades", "quotes"):
            sql = f"SELECT count() FROM {self._market}.{table} WHERE inserted_at >= {_SINCE}"
            total += int(self._ch.rows(sql, since)[0][0])
        return total / RATE_WINDOW_S


def _epoch(value: datetime) -> float:
    """Epoch seconds of a ClickHouse ``DateTime64(3, 'UTC')`` (naive values are UTC)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
