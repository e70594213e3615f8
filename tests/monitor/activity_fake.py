"""An in-memory stand-in for ``symbol_latest`` / ``symbol_activity_daily`` (migration 0009).

It aggregates records exactly as the materialized views do and answers the freshness check's
two queries; the real views are tested against ClickHouse in test_checks_clickhouse.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from .monitor_fakes import FakeClickHouse


@dataclass
class Day:
    asset_class: str
    exchange: str
    records: int
    first: float
    last: float
    fresh_as_of: float


class ActivityTables:
    """Records in, the check's query answers out."""

    def __init__(self) -> None:
        self.days: dict[tuple[str, str, str, date], Day] = {}

    def add(
        self,
        symbol: str,
        event_time: float,
        *,
        asset_class: str = "equity",
        record_type: str = "trades",
        source: str = "simulator",
        exchange: str = "",
        fresh_as_of: float | None = None,
    ) -> None:
        day = datetime.fromtimestamp(event_time, UTC).date()
        key = (record_type, source, symbol, day)
        fresh = event_time if fresh_as_of is None else fresh_as_of
        d = self.days.get(key)
        if d is None:
            self.days[key] = Day(asset_class, exchange, 1, event_time, event_time, fresh)
            return
        d.records += 1
        d.first, d.last = min(d.first, event_time), max(d.last, event_time)
        d.fresh_as_of = max(d.fresh_as_of, fresh)
        d.asset_class, d.exchange = asset_class, exchange

    def answer(self, sql: str, params: dict[str, Any]) -> list[Sequence[Any]]:
        if "symbol_latest" in sql:
            return self._latest()
        if "symbol_activity_daily" in sql:
            return self._daily(params["since"])
        return []

    def handle(self) -> FakeClickHouse:
        return FakeClickHouse(self.answer)

    def _latest(self) -> list[Sequence[Any]]:
        out: dict[tuple[str, str, str], list[Any]] = {}
        for (rt, src, sym, _), d in sorted(self.days.items()):
            row = out.setdefault((rt, src, sym), [rt, src, sym, "", "", 0.0])
            row[3], row[4], row[5] = d.asset_class, d.exchange, max(row[5], d.fresh_as_of)
        return list(out.values())

    def _daily(self, since: date) -> list[Sequence[Any]]:
        out: dict[tuple[str, str, str], list[Any]] = {}
        for (rt, src, sym, day), d in sorted(self.days.items()):
            if day < since:
                continue
            row = out.setdefault((rt, src, sym), [rt, src, sym, "", "", 0, d.first, d.last])
            row[3], row[4] = d.asset_class, d.exchange
            row[5] += d.records
            row[6], row[7] = min(row[6], d.first), max(row[7], d.last)
        return [r for r in out.values() if r[5] >= 2]
