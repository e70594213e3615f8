"""The archive check: is yesterday (UTC) archived and verified by the configured hour?

One result per archived table (target = the table name), from ``ops.archive_manifest``:

* OK — yesterday's piece is ``verified``, or the hot table had no rows yesterday, or it is not
  yet ``archive.check_hour_utc`` (the job still has time; the message says until when);
* WARN — the piece read back differently (``mismatch``) before the due hour;
* CRIT — past the due hour and not verified (never exported, only exported, or mismatch).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from tickwatch.archived_tables import TABLES, ArchivedTable
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import WallClock
from tickwatch.types import CheckResult, Status


class ArchiveCheck:
    name = "archive"
    depends_on = ("clickhouse_reachable",)

    def __init__(
        self,
        ch: ClickHouseHandle,
        market_db: str,
        ops_db: str,
        *,
        due_hour_utc: int,
        interval_s: float,
        clock: WallClock,
    ) -> None:
        self._ch, self._market, self._ops = ch, market_db, ops_db
        self._due_hour, self.interval_s, self._clock = due_hour_utc, interval_s, clock

    def run(self) -> list[CheckResult]:
        """Grade yesterday for every archived table. Raises CheckUnavailable."""
        now = self._clock.time()
        today = datetime.fromtimestamp(now, UTC).date()
        day = today - timedelta(days=1)
        due = datetime.combine(today, time(self._due_hour), UTC)
        states = self._states(day)
        return [self._grade(spec, day, states.get(spec.name), now, due) for spec in TABLES.values()]

    def _grade(
        self, spec: ArchivedTable, day: date, state: str | None, now: float, due: datetime
    ) -> CheckResult:
        late = now >= due.timestamp()
        threshold = float(self._due_hour)
        if state == "verified":
            return self._result(now, spec, Status.OK, 1.0, f"{day} archived and verified")
        if state is None and not self._had_rows(spec, day):
            return self._result(now, spec, Status.OK, 1.0, f"{day}: no rows to archive")
        what = {None: "not archived", "exported": "exported, not verified"}.get(
            state, "read back different from the manifest"
        )
        if not late:
            status = Status.WARN if state == "mismatch" else Status.OK
            message = f"{day} {what}; due by {due:%H:%M} UTC"
            return self._result(now, spec, status, 0.0, message, threshold=threshold)
        message = f"{day} {what} by {due:%H:%M} UTC: run `tickwatch archive run`"
        return self._result(now, spec, Status.CRIT, 0.0, message, threshold=threshold)

    def _states(self, day: date) -> dict[str, str]:
        rows = self._ch.rows(
            f"SELECT table, status FROM {self._ops}.archive_manifest FINAL "
            "WHERE day = {day:Date}",
            {"day": day},
        )
        return {str(table): str(status) for table, status in rows}

    def _had_rows(self, spec: ArchivedTable, day: date) -> bool:
        # the hot table, not the candle views: no aggregation, one partition read
        rows = self._ch.rows(
            f"SELECT count() > 0 FROM {self._market}.{spec.hot_table} WHERE {spec.day_filter()}",
            {"day": day},
        )
        return bool(rows and rows[0][0])

    def _result(
        self, now: float, spec: ArchivedTable, status: Status, value: float, message: str,
        *, threshold: float = 0.0,
    ) -> CheckResult:  # fmt: skip
        return CheckResult(now, self.name, spec.name, status, value, threshold, message)
