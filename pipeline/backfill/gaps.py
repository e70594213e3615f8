"""Gaps: open-market minutes a symbol has no 1-minute bar for.

A minute counts once it is at least :data:`GAP_SETTLE_S` old (the live stream's bar for it may
still be on its way through Kafka). Which minutes are open comes from the one trading-hours model
(:mod:`tickwatch.market_hours`): a closed market has no gaps.
"""

from __future__ import annotations

import numpy as np
from clickhouse_connect.driver.client import Client

from pipeline.backfill.interval import Span
from tickwatch.market_hours import Calendar

MINUTE_US = 60_000_000
GAP_SETTLE_S = 300


def missing_minutes(calendar: Calendar, loaded: set[int], span: Span, now_us: int) -> list[Span]:
    """Runs of open minutes in ``span`` without a bar start in ``loaded``, as spans of minute
    starts (``hi_us`` = the start of the run's last minute)."""
    first = -(-span.lo_us // MINUTE_US) * MINUTE_US
    last = min(span.hi_us, now_us - GAP_SETTLE_S * 1_000_000 - MINUTE_US)
    if last < first:
        return []
    minutes = np.arange(first, last + 1, MINUTE_US, dtype=np.int64)
    open_ = calendar.open_mask(minutes)
    have = np.isin(minutes, np.fromiter(loaded, dtype=np.int64, count=len(loaded)))
    missing = minutes[open_ & ~have]
    return _runs(missing)


def _runs(minutes: np.ndarray) -> list[Span]:
    if minutes.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(minutes) != MINUTE_US)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [minutes.size - 1]))
    return [Span(int(minutes[s]), int(minutes[e])) for s, e in zip(starts, ends, strict=True)]


def loaded_minutes(client: Client, market_db: str, symbol: str, span: Span) -> set[int]:
    """Starts of the 1-minute bars of ``symbol`` (any source) in ``span``."""
    result = client.query(
        f"SELECT DISTINCT toUnixTimestamp64Micro(event_time) FROM {market_db}.bars "
        f"WHERE symbol = {{y:String}} AND interval_s = 60 "
        f"AND event_time BETWEEN fromUnixTimestamp64Micro({{lo:Int64}}, 'UTC') "
        f"AND fromUnixTimestamp64Micro({{hi:Int64}}, 'UTC')",
        parameters={"y": symbol, "lo": span.lo_us, "hi": span.hi_us},
    )
    return {int(row[0]) for row in result.result_rows}
