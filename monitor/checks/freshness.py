"""Data freshness: newest ``event_time`` per record type and asset class, market-hours aware.

Target ``<type>/<asset_class>`` (e.g. ``trades/equity``). Staleness counts only trading time:
``now - max(newest event, open time of the current session)``, so the first minutes after the
open are not "stale since yesterday's close", and while the market is closed the check is OK with
"market closed". Groups with no row in the lookback window are not reported (a feed that never
sent crypto has no crypto freshness).
"""

from __future__ import annotations

from monitor.market_hours import MarketHours
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import WallClock, utc
from tickwatch.types import CheckResult, Status

RECORD_TABLES = ("trades", "quotes", "bars")
# A bar's event_time is its start and it is published when it ends; the next one is due one
# interval after that. So a bar table is as fresh as "newest start + 2 intervals" (0 s old
# right when the next bar is due), and per-minute bars do not look a minute stale by design.
FRESH_AS_OF = {
    "bars": "toFloat64(max(event_time)) + 2 * min(interval_s)",
}
DEFAULT_FRESH_AS_OF = "toFloat64(max(event_time))"
LOOKBACK_DAYS = 7


class FreshnessCheck:
    """One row per (record type, asset class) seen in the last ``LOOKBACK_DAYS`` days."""

    name = "freshness"

    def __init__(
        self,
        ch: ClickHouseHandle,
        market_db: str,
        hours: MarketHours,
        *,
        warn_s: float,
        crit_s: float,
        interval_s: float,
        clock: WallClock,
    ) -> None:
        self._ch, self._db, self._hours = ch, market_db, hours
        self._warn, self._crit = warn_s, crit_s
        self.interval_s = interval_s
        self._clock = clock

    def run(self) -> list[CheckResult]:
        """Query newest event times and grade them. Raises CheckUnavailable."""
        now = self._clock.time()
        results: list[CheckResult] = []
        for table in RECORD_TABLES:
            for asset_class, newest, stale_symbols in self._newest(table, now):
                results.append(self._grade(table, asset_class, newest, stale_symbols, now))
        return results

    def _newest(self, table: str, now: float) -> list[tuple[str, float, list[str]]]:
        """(asset class, newest event time, up to 10 symbols older than the WARN threshold)."""
        fresh_as_of = FRESH_AS_OF.get(table, DEFAULT_FRESH_AS_OF)
        sql = (
            "SELECT asset_class, max(last), groupArrayIf(10)(symbol, last < {cut:Float64}) "
            f"FROM (SELECT asset_class, symbol, {fresh_as_of} AS last "
            f"FROM {self._db}.{table} WHERE event_time >= {{since:DateTime64(3, 'UTC')}} "
            "GROUP BY asset_class, symbol) GROUP BY asset_class ORDER BY asset_class"
        )
        params = {"since": utc(now - LOOKBACK_DAYS * 86400), "cut": now - self._warn}
        return [
            (str(r[0]), float(r[1]), [str(s) for s in r[2]]) for r in self._ch.rows(sql, params)
        ]

    def _grade(
        self, table: str, asset_class: str, newest: float, symbols: list[str], now: float
    ) -> CheckResult:
        target = f"{table}/{asset_class}"
        opened = self._hours.open_since(asset_class, now)
        if opened is None:
            return CheckResult(
                now,
                self.name,
                target,
                Status.OK,
                0.0,
                self._warn,
                f"market closed ({self._hours.describe(asset_class)}); "
                f"last {table} at {utc(newest):%Y-%m-%d %H:%M:%S} UTC",
            )
        stale = max(0.0, now - max(newest, opened))
        status = Status.OK
        if stale >= self._crit:
            status = Status.CRIT
        elif stale >= self._warn:
            status = Status.WARN
        message = (
            f"newest {table} for {asset_class} is {stale:.0f}s old "
            f"(at {utc(newest):%H:%M:%S} UTC; calendar "
            f"{self._hours.describe(asset_class)})"
        )
        if status != Status.OK and symbols:
            message += f"; stale symbols: {', '.join(symbols)}"
        return CheckResult(now, self.name, target, status, stale, self._warn, message)
