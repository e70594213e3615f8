"""Alpaca's historical stock bars REST API (market data v2), as documented.

``GET /v2/stocks/{symbol}/bars`` with ``timeframe`` (``1Min`` / ``1Day``), ``start`` / ``end``
(RFC 3339), ``limit`` (at most 10000), ``feed``, ``adjustment=raw``, ``sort=asc`` and, from the
second page on, ``page_token`` = the previous page's ``next_page_token``. Keys go in the
``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers. The answer::

    {"symbol": "AAPL", "next_page_token": "QUFQTHxNfDE2...",   # null on the last page
     "bars": [{"t": "2024-01-03T14:30:00Z", "o": 1.0, "h": 1.0, "l": 1.0, "c": 1.0,
               "v": 100, "n": 3, "vw": 1.0}]}

(The multi-symbol ``/v2/stocks/bars?symbols=...`` answers ``bars`` as an object keyed by symbol;
one symbol per request keeps each symbol's watermark its own.) Errors come as 4xx with
``{"code": ..., "message": "..."}``.

Crypto pairs (``BTC/USD``) come from ``GET /v1beta3/crypto/us/bars?symbols=BTC/USD`` with the
same ``timeframe`` / ``start`` / ``end`` / ``limit`` / ``sort`` / ``page_token`` (no ``feed``, no
``adjustment``), which answers the multi-symbol shape ``{"bars": {"BTC/USD": [...]},
"next_page_token": ...}`` with the same bar fields. Trades: :mod:`pipeline.backfill.alpaca_trades`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pipeline.backfill.errors import VendorResponseError
from pipeline.backfill.http import JsonGetter
from pipeline.backfill.interval import Span, iso
from pipeline.backfill.pages import Page, items, ohlcv_bar, page_cover
from pipeline.backfill.symbols import Instrument, alpaca
from pipeline.codec import AssetClass, Bar

TIMEFRAME = {60: "1Min", 86_400: "1Day"}


class AlpacaBars:
    """Bars from Alpaca's ``/v2/stocks/{symbol}/bars`` for one symbol at a time."""

    name = "alpaca"

    def __init__(self, getter: JsonGetter, base_url: str, feed: str, limit: int) -> None:
        self._get, self._base = getter, base_url.rstrip("/")
        self._feed, self._limit = feed, min(limit, 10_000)

    def pages(self, symbol: str, interval_s: int, span: Span) -> Iterator[Page]:
        """Pages in time order, following ``next_page_token``; raises VendorResponseError."""
        of = alpaca(symbol)
        params: dict[str, str | int] = {
            "timeframe": TIMEFRAME[interval_s], "start": iso(span.lo_us), "end": iso(span.hi_us),
            "limit": self._limit, "sort": "asc",
        }  # fmt: skip
        if of.asset_class is AssetClass.CRYPTO:
            url = f"{self._base}/v1beta3/crypto/us/bars"
            params["symbols"] = symbol
        else:
            url = f"{self._base}/v2/stocks/{symbol}/bars"
            params |= {"feed": self._feed, "adjustment": "raw"}
        for body, more, where in token_pages(self._get, url, params):
            found = _bar_items(body, of, where)
            bars = [_bar(item, of, interval_s, where) for item in found]
            yield page_cover(bars, more, span, where)


def token_pages(
    get: JsonGetter, url: str, params: dict[str, str | int]
) -> Iterator[tuple[dict[str, Any], bool, str]]:
    """Each page's body, whether more follow, and the request's name, following
    ``next_page_token``; VendorResponseError for a token that is not a string."""
    while True:
        body = get.get(url, params)
        where = f"GET {url} page_token={params.get('page_token', '')!r}"
        token = body.get("next_page_token")
        if token is not None and not (isinstance(token, str) and token):
            raise VendorResponseError(where, f"next_page_token {token!r} is not a string")
        yield body, token is not None, where
        if token is None:
            return
        params = params | {"page_token": token}


def by_symbol(body: dict[str, Any], key: str, symbol: str, where: str) -> dict[str, Any]:
    """The multi-symbol shape ``{key: {symbol: [...]}}`` as ``{key: [...]}`` for one symbol."""
    found = body.get(key)
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise VendorResponseError(where, f"{key!r} is not an object keyed by symbol")
    return {key: found.get(symbol)}


def _bar_items(body: dict[str, Any], of: Instrument, where: str) -> list[dict[str, Any]]:
    if of.asset_class is AssetClass.CRYPTO:
        body = by_symbol(body, "bars", of.symbol, where)
    return items(body, "bars", where)


def _bar(item: dict[str, Any], of: Instrument, interval_s: int, where: str) -> Bar:
    t = item.get("t")
    try:
        moment = datetime.fromisoformat(str(t).replace("Z", "+00:00"))
        if moment.tzinfo is None or not isinstance(t, str):
            raise ValueError
    except ValueError:
        raise VendorResponseError(where, f"bar field 't' = {t!r} is not an RFC 3339 time") from None
    return ohlcv_bar(
        item,
        of,
        int(moment.timestamp()) * 1_000_000 + moment.microsecond,
        interval_s,
        source="alpaca",
        where=where,
    )
