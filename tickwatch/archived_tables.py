"""What is archived: one :class:`ArchivedTable` per hot table or candle view.

In the kernel because the archive job (``pipeline.archive``) and the detector's archive check
(``monitor.checks.archive``) both read it, and neither may import the other.

Trades, quotes and bars are archived from their tables and restored into them. The candles are
archived from their finalising views (``candles_1s`` / ``candles_1m``, plain OHLCV columns a
warehouse can read); their hot data lives in the ``*_state`` tables the materialized views fill
from trades, so restoring *trades* rebuilds them, and the candles are not restored on their own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchivedTable:
    """``source`` is read (in the market database); ``hot_table`` holds the day partitions."""

    name: str
    source: str
    hot_table: str
    time_column: str
    order_by: tuple[str, ...]
    restorable: bool

    def day_filter(self) -> str:
        """The ``WHERE`` condition selecting the day bound as the ``day`` query parameter."""
        return f"toDate({self.time_column}) = {{day:Date}}"


def _ticks(name: str, order: tuple[str, ...]) -> ArchivedTable:
    return ArchivedTable(name, name, name, "event_time", order, restorable=True)


def _candles(name: str) -> ArchivedTable:
    return ArchivedTable(name, name, f"{name}_state", "bucket", ("symbol", "bucket"), False)


TABLES: dict[str, ArchivedTable] = {
    t.name: t
    for t in (
        _ticks("trades", ("symbol", "event_time")),
        _ticks("quotes", ("symbol", "event_time")),
        _ticks("bars", ("symbol", "interval_s", "event_time")),
        _candles("candles_1s"),
        _candles("candles_1m"),
    )
}

CANDLES_OF = {"trades": ("candles_1s", "candles_1m")}
"""Archived tables whose hot data is derived from a table's inserts (its materialized views)."""

DERIVED_FROM = {candle: parent for parent, candles in CANDLES_OF.items() for candle in candles}
"""The table whose restore rebuilds each derived table (so its hold covers them too)."""
