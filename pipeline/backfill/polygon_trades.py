"""Polygon's trades REST API (``/v3/trades/{stockTicker}``), as documented.

``GET /v3/trades/{ticker}`` with ``timestamp.gte`` / ``timestamp.lt`` (nanoseconds since the
epoch), ``order=asc``, ``sort=timestamp``, ``limit`` (at most 50000), the key in an
``Authorization: Bearer`` header; further pages through ``next_url`` as it is. The answer::

    {"status": "OK", "request_id": "...", "next_url": "https://api.polygon.io/v3/trades/...",
     "results": [{"conditions": [12, 41], "correction": 0, "exchange": 11, "id": "52983525034",
                  "participant_timestamp": 1517562000015577000, "price": 171.55,
                  "sequence_number": 1063, "sip_timestamp": 1517562000016036600, "size": 100,
                  "tape": 3, "trf_id": 0, "trf_timestamp": 0}]}

``sip_timestamp`` (ns, when the SIP received the trade) is the event time, as the live stream's
``t`` is (the WebSocket's SIP timestamp in ms), truncated to µs. ``id`` is unique per ticker,
exchange and TRF (hence the live path's key with exchange and day,
:mod:`pipeline.sources.live.trade_ledger`). ``exchange`` is Polygon's integer id, kept as a
decimal string with its MIC as ``venue``; ``conditions`` are the numeric ids the live mapper
keeps as strings, whose eligibility comes from :mod:`pipeline.sources.conditions`; ``tape``
1/2/3 becomes ``A``/``B``/``C``. ``participant_timestamp`` and ``sequence_number`` are checked
to be integers but not stored (the records have no column for them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.backfill.errors import VendorResponseError
from pipeline.backfill.http import JsonGetter
from pipeline.backfill.interval import Span
from pipeline.backfill.pages import Page, TieCarry, items, number
from pipeline.backfill.polygon import check_status, next_url
from pipeline.backfill.symbols import Instrument, polygon
from pipeline.codec import Trade
from pipeline.sources.conditions import polygon_eligibility
from pipeline.sources.live.instruments import polygon_venue
from pipeline.sources.live.polygon_map import TAPES


class PolygonTrades:
    """Trades from Polygon's ``/v3/trades/{ticker}`` for one stock ticker at a time."""

    name = "polygon"

    def __init__(self, getter: JsonGetter, base_url: str, limit: int) -> None:
        self._get, self._base, self._limit = getter, base_url.rstrip("/"), min(limit, 50_000)

    def pages(self, symbol: str, interval_s: int, span: Span) -> Iterator[Page]:
        """Pages in time order, following ``next_url``; raises VendorResponseError."""
        of = polygon(symbol)
        url: str | None = f"{self._base}/v3/trades/{symbol}"
        params: dict[str, str | int] | None = {
            "timestamp.gte": span.lo_us * 1000, "timestamp.lt": (span.hi_us + 1) * 1000,
            "order": "asc", "sort": "timestamp", "limit": self._limit,
        }  # fmt: skip
        carry = TieCarry()
        while url is not None:
            body = self._get.get(url, params)
            where = f"GET {url}"
            check_status(body, where)
            trades = [trade(item, of, where) for item in items(body, "results", where)]
            url, params = next_url(body, where), None
            yield carry.page(trades, url is not None, span, where)


def _integer(item: dict[str, Any], key: str, where: str, *, required: bool = True) -> int:
    value = item.get(key)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise VendorResponseError(where, f"trade field {key!r} = {value!r} is not an integer")
    return value


def trade(item: dict[str, Any], of: Instrument, where: str) -> Trade:
    """One ``results`` object as the live mapper would have made the same trade."""
    sip_ns = _integer(item, "sip_timestamp", where)
    _integer(item, "participant_timestamp", where, required=False)
    _integer(item, "sequence_number", where, required=False)
    conditions = tuple(str(_code(c, where)) for c in item.get("conditions") or ())
    trade_id = item.get("id", "")
    if not isinstance(trade_id, str):
        raise VendorResponseError(where, f"trade field 'id' = {trade_id!r} is not a string")
    exchange = str(_integer(item, "exchange", where)) if "exchange" in item else ""
    rules = polygon_eligibility(conditions)
    return Trade(
        symbol=of.symbol, ts=sip_ns // 1000, price=number(item, "price", where),
        size=number(item, "size", where), asset_class=of.asset_class, exchange=exchange,
        trade_id=trade_id, conditions=conditions, instrument=of.instrument,
        venue=polygon_venue(exchange, False),
        tape=TAPES.get(str(item.get("tape", "")), ""),
        updates_open_close=rules.open_close, updates_high_low=rules.high_low,
        updates_volume=rules.volume, source="polygon",
    )  # fmt: skip


def _code(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise VendorResponseError(where, f"trade condition {value!r} is not an integer id")
    return value
