"""A local HTTP server speaking Polygon's and Alpaca's historical bars and trades protocols.

It serves the documented response shapes (pipeline/backfill/polygon.py, polygon_trades.py,
alpaca.py, alpaca_trades.py) from in-memory bar and trade lists on 127.0.0.1: Polygon
aggregates for stock, crypto (``X:``) and forex (``C:``) tickers and ``/v3/trades``; Alpaca
stock bars, crypto bars (``/v1beta3/crypto/us/bars``, answered keyed by symbol) and stock
trades; with pagination (``next_url`` / ``next_page_token``), an optional HTTP 429 with
``Retry-After`` on chosen requests, an optional malformed page, a delay per page (so a test can
kill a run between pages), and credential checks.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson

from tests.fixtures.http_server import LoopbackServer

# fresh per test session: tests check that none of them shows up in errors or output
POLYGON_KEY = f"pk-{secrets.token_hex(8)}"
ALPACA_KEY_ID = f"AK{secrets.token_hex(6).upper()}"
ALPACA_SECRET = secrets.token_hex(12)
MINUTE_MS = 60_000


@dataclass
class FixtureBar:
    t_ms: int
    o: float
    h: float
    low: float
    c: float
    v: float
    n: int


@dataclass
class FixtureTrade:
    sip_ns: int
    price: float
    size: float
    trade_id: int
    exchange: int  # Polygon's exchange id; Alpaca's letter is ALPACA_EXCHANGE[exchange]
    conditions: tuple[int, ...] = ()
    tape: int = 3


POLYGON_CONDITION_LETTER = {12: "T", 37: "I", 14: "@"}  # form T, odd lot, regular (UTP codes)
ALPACA_EXCHANGE = {11: "P", 12: "Q", 15: "V", 4: "D"}


def trades_at(
    start_ns: int, count: int, per_microsecond: int = 3, every_ns: int = 1_000_000
) -> list[FixtureTrade]:
    """``count`` trades from ``start_ns``: ``per_microsecond`` of them in one microsecond (so
    pages end inside a microsecond), then the next group ``every_ns`` later; ids unique per
    exchange, some odd lots (condition 37)."""
    out = []
    for i in range(count):
        ts = start_ns + (i // per_microsecond) * every_ns + (i % per_microsecond) * 100
        exchange = (11, 12, 15, 4)[i % 4]
        conditions = (37,) if i % 5 == 0 else ()
        out.append(
            FixtureTrade(ts, 100 + i % 9 * 0.01, 1 + i % 300, 1000 + i, exchange, conditions)
        )
    return out


def minute_bars(start_ms: int, count: int) -> list[FixtureBar]:
    """``count`` consecutive 1-minute bars from ``start_ms``."""
    return [
        FixtureBar(
            start_ms + i * MINUTE_MS, 100 + i % 7, 101 + i % 7, 99 + i % 7, 100 + i % 7, 10 + i, 3
        )
        for i in range(count)
    ]


@dataclass
class Behaviour:
    page_size: int = 100
    rate_limit_requests: set[int] = field(default_factory=set)  # request numbers answered 429
    retry_after: str = "0"
    malformed_request: int | None = None
    page_delay_s: float = 0.0
    requests: list[str] = field(default_factory=list)


class VendorFixture(LoopbackServer):
    """``.url`` of a running server; ``.stop()``. Both protocols on one port."""

    def __init__(
        self,
        bars: list[FixtureBar],
        behaviour: Behaviour | None = None,
        *,
        trades: list[FixtureTrade] | None = None,
        tickers: frozenset[str] = frozenset({"AAPL"}),
    ) -> None:
        self.bars, self.behaviour = bars, behaviour or Behaviour()
        self.trades, self.tickers = trades or [], tickers
        self.start_serving()
        self._lock = threading.Lock()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        b = self.behaviour
        with self._lock:
            b.requests.append(h.path)
            number = len(b.requests)
        if number in b.rate_limit_requests:
            self._send(h, 429, {"status": "ERROR", "error": "rate limited"}, b.retry_after)
            return
        if b.page_delay_s:
            time.sleep(b.page_delay_s)
        url = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if number == b.malformed_request:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.end_headers()
            h.wfile.write(b'{"results": [{"t": "soon"')
            return
        if url.path.startswith("/v2/aggs/ticker/"):
            self._polygon(h, url.path, query)
        elif url.path.startswith("/v3/trades/"):
            self._polygon_trades(h, url.path, query)
        elif url.path.startswith("/v2/stocks/") and url.path.endswith("/trades"):
            self._alpaca_trades(h, url.path, query)
        elif url.path.startswith(("/v2/stocks/", "/v1beta3/crypto/us/bars")):
            self._alpaca(h, url.path, query)
        else:
            self._send(h, 404, {"message": "not found"})

    def _polygon(self, h: BaseHTTPRequestHandler, path: str, query: dict[str, str]) -> None:
        if h.headers.get("Authorization") != f"Bearer {POLYGON_KEY}":
            self._send(h, 401, {"status": "NOT_AUTHORIZED", "message": "Unknown API Key"})
            return
        parts = path.split("/")  # /v2/aggs/ticker/T/range/1/minute/from/to
        ticker, lo, hi = parts[4], int(parts[8]), int(parts[9])
        chosen = [x for x in self.bars if lo <= x.t_ms <= hi] if ticker in self.tickers else []
        start = int(query.get("cursor", "0"))
        size = min(int(query.get("limit", "50000")), self.behaviour.page_size)
        page = chosen[start : start + size]
        body: dict[str, Any] = {
            "ticker": ticker, "status": "OK", "adjusted": True, "queryCount": len(page),
            "resultsCount": len(page), "request_id": "fixture",
            "results": [
                {"v": x.v, "vw": x.c, "o": x.o, "c": x.c, "h": x.h, "l": x.low, "t": x.t_ms,
                 "n": x.n}
                for x in page
            ],
        }  # fmt: skip
        if start + size < len(chosen):
            body["next_url"] = f"{self.url}{path}?cursor={start + size}&limit={size}"
        self._send(h, 200, body)

    def _alpaca(self, h: BaseHTTPRequestHandler, path: str, query: dict[str, str]) -> None:
        if (h.headers.get("APCA-API-KEY-ID"), h.headers.get("APCA-API-SECRET-KEY")) != (
            ALPACA_KEY_ID, ALPACA_SECRET,
        ):  # fmt: skip
            self._send(h, 403, {"code": 40310000, "message": "forbidden"})
            return
        crypto = path.startswith("/v1beta3/")
        symbol = query["symbols"] if crypto else path.split("/")[3]
        lo, hi = _ms(query["start"]), _ms(query["end"])
        chosen = [x for x in self.bars if lo <= x.t_ms <= hi] if symbol in self.tickers else []
        start = int(query.get("page_token", "0"))
        size = min(int(query.get("limit", "10000")), self.behaviour.page_size)
        page = chosen[start : start + size]
        token = str(start + size) if start + size < len(chosen) else None
        bars = [
            {"t": _rfc(x.t_ms), "o": x.o, "h": x.h, "l": x.low, "c": x.c, "v": x.v, "n": x.n,
             "vw": x.c}
            for x in page
        ]  # fmt: skip
        if crypto:  # the multi-symbol shape
            self._send(h, 200, {"bars": {symbol: bars}, "next_page_token": token})
            return
        self._send(h, 200, {"bars": bars, "symbol": symbol, "next_page_token": token})

    def _polygon_trades(self, h: BaseHTTPRequestHandler, path: str, query: dict[str, str]) -> None:
        if h.headers.get("Authorization") != f"Bearer {POLYGON_KEY}":
            self._send(h, 401, {"status": "NOT_AUTHORIZED", "message": "Unknown API Key"})
            return
        ticker = path.split("/")[3]
        if "cursor" in query:  # next_url: where the previous page stopped, and the range
            lo, hi, start = (int(x) for x in query["cursor"].split("-"))
        else:
            lo, hi, start = int(query["timestamp.gte"]), int(query["timestamp.lt"]), 0
        chosen = [t for t in self.trades if lo <= t.sip_ns < hi] if ticker in self.tickers else []
        size = min(int(query.get("limit", "50000")), self.behaviour.page_size)
        page = chosen[start : start + size]
        body: dict[str, Any] = {
            "status": "OK", "request_id": "fixture",
            "results": [
                {"conditions": list(t.conditions), "exchange": t.exchange, "id": str(t.trade_id),
                 "participant_timestamp": t.sip_ns - 400, "price": t.price,
                 "sequence_number": t.trade_id * 2, "sip_timestamp": t.sip_ns, "size": t.size,
                 "tape": t.tape}
                for t in page
            ],
        }  # fmt: skip
        if start + size < len(chosen):
            body["next_url"] = f"{self.url}{path}?cursor={lo}-{hi}-{start + size}&limit={size}"
        self._send(h, 200, body)

    def _alpaca_trades(self, h: BaseHTTPRequestHandler, path: str, query: dict[str, str]) -> None:
        if (h.headers.get("APCA-API-KEY-ID"), h.headers.get("APCA-API-SECRET-KEY")) != (
            ALPACA_KEY_ID, ALPACA_SECRET,
        ):  # fmt: skip
            self._send(h, 403, {"code": 40310000, "message": "forbidden"})
            return
        symbol = path.split("/")[3]
        lo, hi = _ns(query["start"]), _ns(query["end"])
        chosen = [t for t in self.trades if lo <= t.sip_ns <= hi] if symbol in self.tickers else []
        start = int(query.get("page_token", "0"))
        size = min(int(query.get("limit", "10000")), self.behaviour.page_size)
        page = chosen[start : start + size]
        token = str(start + size) if start + size < len(chosen) else None
        trades = [
            {"t": _rfc_ns(t.sip_ns), "x": ALPACA_EXCHANGE[t.exchange], "p": t.price, "s": t.size,
             "c": [POLYGON_CONDITION_LETTER.get(c, "@") for c in t.conditions] or ["@"],
             "i": t.trade_id, "z": "C"}
            for t in page
        ]  # fmt: skip
        self._send(h, 200, {"trades": trades, "symbol": symbol, "next_page_token": token})

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler, status: int, body: dict[str, Any], retry_after: str = ""
    ) -> None:
        data = orjson.dumps(body)
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        if retry_after:
            h.send_header("Retry-After", retry_after)
        h.end_headers()
        h.wfile.write(data)


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _ns(text: str) -> int:
    """RFC 3339 whole seconds (what the client sends Alpaca) as ns; fractions are refused as
    the older Alpaca documentation says."""
    assert "." not in text, f"Alpaca start/end with a fraction of a second: {text}"
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000


def _rfc_ns(ns: int) -> str:
    whole = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{ns % 1_000_000_000:09d}Z"


def _rfc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
