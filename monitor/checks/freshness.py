"""Data freshness per symbol and source, reported per record type and asset class.

Reads the small table fed by materialized views (migration 0009), never the tick tables:
through the view ``symbol_latest`` (one row per record type, source and symbol: its newest
record, kept forever; migrations 0019/0020) on every run, and ``symbol_activity_daily``
(records per symbol and day; rows with 0 records are the TTL's roll-up of expired days and
count in no baseline) every ``baseline_refresh_s`` for each symbol's typical gap between
records. The watched set is the
union of the symbols the source's configuration expects (:mod:`pipeline.sources.expected`,
handed in by ``tickwatch monitor``) and every symbol that has ever delivered, so a silent symbol
never drops out with a false RESOLVED.
Grading and grouping: :mod:`monitor.checks.freshness_grade`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from monitor.checks.freshness_grade import Limits, Watched, grade, group_results
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import WallClock, utc
from tickwatch.market_hours import TradingHours
from tickwatch.types import CheckResult, ExpectedSymbol, symbol_key

DAY_S = 86_400.0
Key = tuple[str, str, str]  # record type, source, symbol


class FreshnessCheck:
    """Per-symbol freshness; one result per ``<record type>/<asset class>``.

    Raises ``ServiceUnavailable`` (via the handle) when ClickHouse cannot be read.
    """

    name = "freshness"

    def __init__(
        self,
        ch: ClickHouseHandle,
        market_db: str,
        hours: TradingHours,
        expected: Sequence[ExpectedSymbol],
        *,
        limits: Limits,
        interval_s: float,
        clock: WallClock,
        baseline_days: int = 7,
        baseline_refresh_s: float = 300.0,
    ) -> None:
        self._ch, self._db, self._hours = ch, market_db, hours
        self._expected, self._limits = list(expected), limits
        self.interval_s = interval_s
        self._clock = clock
        self._since = clock.time()  # a symbol that never delivered is late from here on
        self._baseline_days, self._baseline_refresh = baseline_days, baseline_refresh_s
        self._gaps: dict[Key, float] = {}
        self._gaps_at: float | None = None

    def run(self) -> list[CheckResult]:
        """Query, grade, group. Raises ServiceUnavailable."""
        now = self._clock.time()
        if self._gaps_at is None or now - self._gaps_at >= self._baseline_refresh:
            self._gaps, self._gaps_at = self._typical_gaps(now), now
        watched = [replace(w, gap_s=self._gaps.get(_key(w))) for w in self._watched()]
        return group_results(grade(watched, self._hours, self._limits, now, self._since),
                             self._limits, now)  # fmt: skip

    def _watched(self) -> list[Watched]:
        sql = (
            "SELECT record_type, source, symbol, anyLast(asset_class), anyLast(exchange), "
            "toFloat64(max(fresh_as_of)) "
            f"FROM {self._db}.symbol_latest GROUP BY record_type, source, symbol"
        )
        seen = [
            Watched(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), float(r[5]))
            for r in self._ch.rows(sql)
        ]
        delivered = {(w.record_type, w.source, symbol_key(w.symbol)) for w in seen}
        never = [
            Watched("trades", e.source, e.symbol, e.asset_class, e.exchange, None)
            for e in self._expected
            if ("trades", e.source, symbol_key(e.symbol)) not in delivered
        ]
        return seen + never

    def _typical_gaps(self, now: float) -> dict[Key, float]:
        """Mean trading-time gap between records per symbol over the last ``baseline_days``."""
        sql = (
            "SELECT record_type, source, symbol, anyLast(asset_class), anyLast(exchange), "
            "sum(records), toFloat64(min(first_event)), toFloat64(max(last_event)) "
            f"FROM {self._db}.symbol_activity_daily WHERE day >= {{since:Date}} AND records > 0 "
            "GROUP BY record_type, source, symbol HAVING sum(records) >= 2"
        )
        gaps: dict[Key, float] = {}
        for r in self._ch.rows(sql, {"since": utc(now - self._baseline_days * DAY_S).date()}):
            calendar = self._hours.calendar(str(r[3]), str(r[4]))
            span = calendar.trading_seconds(float(r[6]), float(r[7]))
            gaps[(str(r[0]), str(r[1]), str(r[2]))] = span / (int(r[5]) - 1)
        return gaps


def _key(w: Watched) -> Key:
    return (w.record_type, w.source, w.symbol)
