"""Polygon (massive.com) REST snapshots, as documented.

``snapshot`` mode, one request per poll for every symbol:
``GET /v2/snapshot/locale/us/markets/stocks/tickers?tickers=AAPL,MSFT``::

    {"status": "OK", "count": 1,
     "tickers": [{"ticker": "AAPL", "updated": 1605192894630916600,
                  "lastTrade": {"c": [14, 41], "i": "4046", "p": 120.47, "s": 236,
                                "t": 1605195918306274000, "x": 10, "z": 3},
                  "lastQuote": {"P": 120.5, "S": 4, "p": 120.46, "s": 8,
                                "t": 1605195918507251700},
                  "min": {"av": 9, "t": 1605195840000, "n": 3, "o": 120.4, "h": 120.5,
                          "l": 120.4, "c": 120.47, "v": 2100, "vw": 120.45},
                  "day": {...}, "prevDay": {...}, "todaysChange": 0.3, "todaysChangePerc": 0.2}]}

``last`` mode, two requests per symbol: ``GET /v2/last/trade/{ticker}`` →
``{"status": "OK", "results": {"T": "AAPL", "c": [37], "i": "118749", "p": 129.85, "s": 25,
"t": 1617901342969834000, "x": 4, "z": 3, "q": 3135876}}`` and ``GET /v2/last/nbbo/{ticker}`` →
``{"status": "OK", "results": {"T": "AAPL", "P": 127.98, "S": 7, "X": 19, "p": 127.96, "s": 1,
"x": 11, "t": 1617827221349730300, "z": 3, "c": [1]}}`` (no minute bar in this mode).

Units: trade and quote ``t`` are nanoseconds (kept to the µs, truncated); ``min.t`` is the
minute's start in milliseconds. ``P``/``S``/``X`` are the ask price, size and exchange,
``p``/``s``/``x`` the bid's. Each object is renamed to the stream's fields (``ap``/``as``/``ax``,
``bp``/``bs``/``bx``, ``sym``) and mapped by :mod:`pipeline.sources.live.polygon_map`, so venues
become MICs and conditions eligibility flags exactly as for the WebSocket. Quote sizes: the
snapshot's ``lastQuote.S``/``s`` are "the ask/bid size in lots" (Polygon's snapshot reference),
as in the stream, so they become shares (x 100, ``lot_size`` 100); the last-NBBO endpoint's
``results.S`` is "the number of shares sellers are offering" (its reference), so those sizes are
kept as they are (``lot_size`` 1). The API key goes in
an ``Authorization: Bearer`` header. Stocks only: the crypto snapshot has no quote sizes in lots
and is served by the Alpaca poller or the live streams.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import SecretStr

from pipeline.codec import Quote, Record
from pipeline.sources.live import polygon_map
from pipeline.sources.live.wire import integer, text
from pipeline.sources.poll.errors import MalformedResponse, PollConfigError
from pipeline.sources.poll.http import Request
from pipeline.sources.poll.vendor import Parsed, mapped, obj

OK_STATUSES = ("OK", "DELAYED")
SNAPSHOT_PATH = "/v2/snapshot/locale/us/markets/stocks/tickers"
QUOTE_FIELDS = {"P": "ap", "S": "as", "X": "ax", "p": "bp", "s": "bs", "x": "bx"}
CREDENTIAL = "sources.polygon_api_key (TICKWATCH_SOURCES_POLYGON_API_KEY or the secrets file)"


class PolygonSnapshots:
    """Polygon's stock snapshot (or last trade / last NBBO) endpoints for a symbol list."""

    name = "polygon_rest"
    record_source = polygon_map.SOURCE
    credential = CREDENTIAL

    def __init__(self, symbols: list[str], *, api_key: SecretStr, base_url: str, mode: str) -> None:
        if not api_key.get_secret_value():
            raise PollConfigError(f"polygon_rest needs {CREDENTIAL}")
        self._symbols, self._base, self._mode = symbols, base_url.rstrip("/"), mode
        self._headers = {"Authorization": f"Bearer {api_key.get_secret_value()}"}

    def requests(self) -> list[Request]:
        if self._mode == "snapshot":
            params = {"tickers": ",".join(self._symbols)}
            return [Request(f"{self._base}{SNAPSHOT_PATH}", params, self._headers)]
        return [
            Request(f"{self._base}/v2/last/{kind}/{symbol}", {}, self._headers)
            for symbol in self._symbols
            for kind in ("trade", "nbbo")
        ]

    def parse(self, body: dict[str, Any], request: Request, recv_us: int) -> Parsed:
        where = request.name
        status = body.get("status")
        if status not in OK_STATUSES:
            problem = body.get("error") or body.get("message") or ""
            raise MalformedResponse(where, f"status {status!r}: {str(problem)[:200]!r}")
        if "/v2/last/" in request.url:
            return Parsed(_last(body, where, recv_us), 1)
        tickers = body.get("tickers") or []
        if not isinstance(tickers, list):
            raise MalformedResponse(where, "field 'tickers' is not a list")
        records: list[Record] = []
        for n, item in enumerate(tickers):
            records += _snapshot(obj(item, where, f"tickers[{n}]"), where, f"tickers[{n}]", recv_us)
        return Parsed(records, len(tickers))


def _snapshot(item: dict[str, Any], where: str, at: str, recv_us: int) -> list[Record]:
    symbol = mapped(where, f"{at}.ticker", text, item.get("ticker"))
    out: list[Record] = []
    if item.get("lastTrade") is not None:
        out.append(_trade(obj(item["lastTrade"], where, f"{at}.lastTrade"), symbol, where,
                          f"{at}.lastTrade", recv_us))  # fmt: skip
    if item.get("lastQuote") is not None:
        out.append(_quote(obj(item["lastQuote"], where, f"{at}.lastQuote"), symbol, where,
                          f"{at}.lastQuote", recv_us))  # fmt: skip
    minute = item.get("min")
    if minute is not None and obj(minute, where, f"{at}.min").get("t"):
        out.append(_bar(minute, symbol, where, f"{at}.min", recv_us))
    return out


def _last(body: dict[str, Any], where: str, recv_us: int) -> list[Record]:
    results = obj(body.get("results"), where, "results")
    symbol = mapped(where, "results.T", text, results.get("T"))
    if "/v2/last/trade/" in where:
        return [_trade(results, symbol, where, "results", recv_us)]
    quote = _quote(results, symbol, where, "results", recv_us)
    # the last-NBBO sizes are shares already: undo the stream's round-lot scaling
    return [dataclasses.replace(quote, bid_size=quote.bid_size / quote.lot_size,
                                ask_size=quote.ask_size / quote.lot_size, lot_size=1)]  # fmt: skip


def _ns_us(msg: dict[str, Any], where: str, at: str) -> int:
    return int(mapped(where, f"{at}.t", integer, msg.get("t"))) // 1000


def _trade(msg: dict[str, Any], symbol: str, where: str, at: str, recv_us: int) -> Record:
    ts = _ns_us(msg, where, at)
    wire = {k: v for k, v in msg.items() if k in ("c", "i", "p", "s", "x", "z")}
    wire |= {"ev": "T", "sym": symbol, "t": ts // 1000}
    trade = mapped(where, at, polygon_map.trade, wire, recv_us)
    return dataclasses.replace(trade, ts=ts)


def _quote(msg: dict[str, Any], symbol: str, where: str, at: str, recv_us: int) -> Quote:
    ts = _ns_us(msg, where, at)
    wire: dict[str, object] = {QUOTE_FIELDS[k]: v for k, v in msg.items() if k in QUOTE_FIELDS}
    wire |= {"ev": "Q", "sym": symbol, "t": ts // 1000, "c": msg.get("c")}
    quote = mapped(where, at, polygon_map.quote, wire, recv_us)
    return dataclasses.replace(quote, ts=ts)


def _bar(msg: dict[str, Any], symbol: str, where: str, at: str, recv_us: int) -> Record:
    start_ms = int(mapped(where, f"{at}.t", integer, msg.get("t")))
    wire = {k: v for k, v in msg.items() if k in ("o", "h", "l", "c", "v", "vw")}
    wire |= {"ev": "AM", "sym": symbol, "s": start_ms, "e": start_ms + 60_000}
    bar = mapped(where, at, polygon_map.bar, wire, recv_us)
    count = msg.get("n", 0)
    return dataclasses.replace(bar, trade_count=count if isinstance(count, int) else 0)
