"""Alpaca's historical stock trades REST API (market data v2), as documented.

``GET /v2/stocks/{symbol}/trades`` with ``start`` / ``end`` (RFC 3339, both inclusive),
``limit`` (at most 10000), ``feed``, ``sort=asc`` and ``page_token`` = the previous page's
``next_page_token``; keys in the ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers. The
answer::

    {"trades": [{"t": "2022-04-11T12:00:36.002951946Z", "x": "V", "p": 168.04, "s": 50,
                 "c": ["@", "T", "I"], "i": 1, "z": "C"}],
     "symbol": "AAPL", "next_page_token": "QUFQTHwy..."}      # null on the last page

The fields are the stream's (``t`` RFC 3339 with ns, ``x`` exchange letter, ``p`` price, ``s``
size in shares, ``c`` conditions, ``i`` trade id, ``z`` tape), so each item goes through the live
mapper (:func:`pipeline.sources.live.alpaca_map.trade`): the same instrument, venue, tape and
condition eligibility as a streamed trade. Older documentation says ``start``/``end`` take no
fractions of a second, so the request asks for whole seconds around the span (start rounded
down; end = the span's last microsecond plus one, rounded up, as a trade at ``hi + 100 ns``
still truncates to ``hi``) and trades outside the span are dropped here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.backfill.alpaca import token_pages
from pipeline.backfill.errors import VendorResponseError
from pipeline.backfill.http import JsonGetter
from pipeline.backfill.interval import US, Span, iso
from pipeline.backfill.pages import Page, TieCarry, items
from pipeline.codec import AssetClass, Trade
from pipeline.sources.live import alpaca_map
from pipeline.sources.live.wire import WireError


class AlpacaTrades:
    """Trades from Alpaca's ``/v2/stocks/{symbol}/trades`` for one symbol at a time."""

    name = "alpaca"

    def __init__(self, getter: JsonGetter, base_url: str, feed: str, limit: int) -> None:
        self._get, self._base = getter, base_url.rstrip("/")
        self._feed, self._limit = feed, min(limit, 10_000)

    def pages(self, symbol: str, interval_s: int, span: Span) -> Iterator[Page]:
        """Pages in time order, following ``next_page_token``; raises VendorResponseError."""
        params: dict[str, str | int] = {
            "start": iso(span.lo_us // US * US), "end": iso(-(-(span.hi_us + 1) // US) * US),
            "limit": self._limit, "feed": self._feed, "sort": "asc",
        }  # fmt: skip
        url = f"{self._base}/v2/stocks/{symbol}/trades"
        carry = TieCarry()
        for body, more, where in token_pages(self._get, url, params):
            trades = [trade(item, symbol, where) for item in items(body, "trades", where)]
            yield carry.page(trades, more, span, where)


def trade(item: dict[str, Any], symbol: str, where: str) -> Trade:
    """One ``trades`` object through the live mapper; VendorResponseError naming the field."""
    try:
        return alpaca_map.trade({**item, "S": symbol}, 0, AssetClass.EQUITY)
    except WireError as exc:
        raise VendorResponseError(where, f"trade {item!r:.120}: {exc}") from None
