"""Polygon's aggregates (bars) REST API, as documented; stocks, crypto and forex alike.

``GET /v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}`` with ``from``/``to``
as Unix milliseconds, ``adjusted``, ``sort=asc``, ``limit`` (at most 50000); the API key goes in
an ``Authorization: Bearer`` header (so no URL, log line or error ever holds it). The answer::

    {"ticker": "AAPL", "status": "OK" | "DELAYED", "adjusted": true, "queryCount": 2,
     "resultsCount": 2, "request_id": "...",
     "results": [{"t": 1700000000000, "o": 1.0, "h": 1.0, "l": 1.0, "c": 1.0, "v": 100,
                  "vw": 1.0, "n": 3}],
     "next_url": "https://api.polygon.io/v2/aggs/ticker/AAPL/range/1/minute/...?cursor=..."}

``t`` is the window start (ms); ``next_url`` (absent on the last page) is followed as it is.
``status`` ``ERROR`` / ``NOT_AUTHORIZED`` with an ``error`` or ``message`` text is a bad response.
The same endpoint serves crypto (``X:BTCUSD``) and forex (``C:EURUSD``) tickers with the same
fields; :mod:`pipeline.backfill.symbols` gives each bar its asset class and instrument.
Trades: :mod:`pipeline.backfill.polygon_trades`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.backfill.errors import VendorResponseError
from pipeline.backfill.http import JsonGetter
from pipeline.backfill.interval import Span
from pipeline.backfill.pages import Page, items, ohlcv_bar, page_cover
from pipeline.backfill.symbols import Instrument, polygon
from pipeline.codec import Bar
from tickwatch.vendor_answers import quote

TIMESPAN = {60: "minute", 86_400: "day"}
OK_STATUSES = ("OK", "DELAYED")


class PolygonBars:
    """Bars from Polygon's aggregates endpoint for one symbol at a time."""

    name = "polygon"

    def __init__(self, getter: JsonGetter, base_url: str, limit: int) -> None:
        self._get, self._base, self._limit = getter, base_url.rstrip("/"), min(limit, 50_000)

    def pages(self, symbol: str, interval_s: int, span: Span) -> Iterator[Page]:
        """Pages in time order, following ``next_url``; raises VendorResponseError."""
        url: str | None = (
            f"{self._base}/v2/aggs/ticker/{symbol}/range/1/{TIMESPAN[interval_s]}/"
            f"{span.lo_us // 1000}/{span.hi_us // 1000}"
        )
        params: dict[str, str | int] | None = {
            "adjusted": "true", "sort": "asc", "limit": self._limit,
        }  # fmt: skip
        of = polygon(symbol)
        while url is not None:
            body = self._get.get(url, params)
            where = f"GET {url}"
            check_status(body, where)
            bars = [_bar(item, of, interval_s, where) for item in items(body, "results", where)]
            url, params = next_url(body, where), None  # next_url carries every parameter
            yield page_cover(bars, url is not None, span, where)


def check_status(body: dict[str, Any], where: str) -> None:
    """VendorResponseError unless ``status`` is ``OK`` or ``DELAYED`` (v2 and v3 alike)."""
    status = body.get("status")
    if status not in OK_STATUSES:
        text = body.get("error") or body.get("message") or ""
        raise VendorResponseError(where, f"status {status!r}: {quote(str(text))}")


def next_url(body: dict[str, Any], where: str) -> str | None:
    found = body.get("next_url")
    if found is None or found == "":
        return None
    if not isinstance(found, str) or not found.startswith(("http://", "https://")):
        raise VendorResponseError(where, f"next_url {found!r} is not a URL")
    return found


def _bar(item: dict[str, Any], of: Instrument, interval_s: int, where: str) -> Bar:
    t = item.get("t")
    if isinstance(t, bool) or not isinstance(t, int):
        raise VendorResponseError(where, f"bar field 't' = {t!r} is not integer milliseconds")
    return ohlcv_bar(item, of, t * 1000, interval_s, source="polygon", where=where)
