"""Yahoo Finance's chart API (the one ``yfinance`` reads), polled for 1-minute bars.

``GET {poll.yfinance_url}/v8/finance/chart/{symbol}?interval=1m&range=1d`` answers::

    {"chart": {"result": [{"meta": {"currency": "USD", "symbol": "AAPL",
                                    "exchangeName": "NMS", "instrumentType": "EQUITY",
                                    "regularMarketPrice": 189.3, "regularMarketTime": 1700000000,
                                    "dataGranularity": "1m", ...},
                           "timestamp": [1699986600, 1699986660, ...],
                           "indicators": {"quote": [{"open": [189.1, null, ...],
                                                     "high": [...], "low": [...],
                                                     "close": [...], "volume": [...]}]}}],
               "error": null}}

``timestamp`` holds each minute's start (epoch seconds); a minute with ``null`` prices had no
trades and gives no bar; a ``null`` volume is 0. ``chart.error`` (``{"code": "Not Found",
"description": ...}``, also sent with HTTP 404 for an unknown symbol) is a malformed answer for
that symbol. The chart API carries no bid/ask: ``meta.regularMarketPrice``/``Time`` are the last
price, already inside the minute bars, so this poller emits bars only (no Quote records).
Instruments are canonical (:mod:`pipeline.sources.live.instruments`): ``BTC-USD`` → ``BTC/USD``,
``EURUSD=X`` → ``EUR/USD``, ``BRK-B`` → ``BRK.B``.

Why not the ``yfinance`` library: it builds its URLs from module constants
(``https://query2.finance.yahoo.com``), fetches its cookie and crumb from fixed hosts
(``https://fc.yahoo.com``, ``https://query1.finance.yahoo.com/v1/test/getcrumb``, the
``guce.yahoo.com`` consent pages) and talks through a ``curl_cffi`` browser-impersonating
session; none of that takes a base URL, so it can only be pointed at a local fixture by
patching its module globals — not honestly. It also hands back pandas frames without the
``meta`` this source validates. This client is the documented chart API with a configurable
base URL (``poll.yfinance_url``); the chart endpoint answers without the crumb.
"""

from __future__ import annotations

from typing import Any

from pipeline.codec import AssetClass, Bar, Record
from pipeline.sources.live.instruments import equity, pair, split_pair
from pipeline.sources.live.wire import WireError, integer, number, text
from pipeline.sources.poll.errors import MalformedResponse
from pipeline.sources.poll.http import Request
from pipeline.sources.poll.vendor import Parsed, mapped, obj

SOURCE = "yfinance"
ASSETS = {
    "EQUITY": AssetClass.EQUITY,
    "ETF": AssetClass.ETF,
    "INDEX": AssetClass.INDEX,
    "CRYPTOCURRENCY": AssetClass.CRYPTO,
    "CURRENCY": AssetClass.FX,
}  # fmt: skip  (meta.instrumentType values)
OHLC = ("open", "high", "low", "close")
HEADERS = {"User-Agent": "tickwatch", "Accept": "application/json"}


class YahooChart:
    """Yahoo's chart API, one request per symbol per poll."""

    name = SOURCE
    record_source = SOURCE
    credential = "no credential (Yahoo's chart API is unauthenticated; a 401/403 is a block)"

    def __init__(self, symbols: list[str], *, base_url: str) -> None:
        self._symbols, self._base = symbols, base_url.rstrip("/")

    def requests(self) -> list[Request]:
        params = {"interval": "1m", "range": "1d"}
        return [
            Request(f"{self._base}/v8/finance/chart/{symbol}", params, HEADERS)
            for symbol in self._symbols
        ]

    def parse(self, body: dict[str, Any], request: Request, recv_us: int) -> Parsed:
        where = request.name
        chart = obj(body.get("chart"), where, "chart")
        if chart.get("error") is not None:
            error = chart["error"]
            raise MalformedResponse(where, f"chart.error: {str(error)[:200]!r}")
        results = chart.get("result")
        if not isinstance(results, list) or not results:
            raise MalformedResponse(where, "field 'chart.result' is not a non-empty list")
        result = obj(results[0], where, "chart.result[0]")
        return Parsed(_bars(result, where, recv_us), 1)


def _bars(result: dict[str, Any], where: str, recv_us: int) -> list[Record]:
    meta = obj(result.get("meta"), where, "chart.result[0].meta")
    symbol = mapped(where, "meta.symbol", text, meta.get("symbol"))
    asset = ASSETS.get(str(meta.get("instrumentType")), AssetClass.EQUITY)
    stamps = result.get("timestamp") or []
    if not isinstance(stamps, list):
        raise MalformedResponse(where, "field 'chart.result[0].timestamp' is not a list")
    quote = _quote_arrays(result, len(stamps), where)
    bars: list[Record] = []
    for i, stamp in enumerate(stamps):
        prices = [quote[k][i] for k in OHLC]
        if any(p is None for p in prices):
            continue  # a minute without trades
        at = f"{where}: minute {i} (timestamp[{i}])"
        bars.append(_bar(symbol, asset, stamp, prices, volume=quote["volume"][i], at=at,
                         recv_us=recv_us))  # fmt: skip
    return bars


def _quote_arrays(result: dict[str, Any], n: int, where: str) -> dict[str, list[Any]]:
    at = "chart.result[0].indicators.quote[0]"
    indicators = obj(result.get("indicators"), where, "chart.result[0].indicators")
    quotes = indicators.get("quote")
    if not isinstance(quotes, list) or not quotes:
        if n == 0:
            return {k: [] for k in (*OHLC, "volume")}
        raise MalformedResponse(where, f"field {at!r} is missing")
    quote = obj(quotes[0], where, at)
    arrays: dict[str, list[Any]] = {}
    for key in (*OHLC, "volume"):
        values = quote.get(key)
        if not isinstance(values, list) or len(values) != n:
            raise MalformedResponse(where, f"field '{at}.{key}' is not a list of {n} values")
        arrays[key] = values
    return arrays


def _bar(
    symbol: str, asset: AssetClass, stamp: object, prices: list[Any], *, volume: object,
    at: str, recv_us: int,
) -> Bar:  # fmt: skip
    try:
        o, h, low, c = (number(p) for p in prices)
        return Bar(
            symbol=symbol, ts=integer(stamp) * 1_000_000, interval_s=60, open=o, high=h, low=low,
            close=c, volume=0.0 if volume is None else number(volume), asset_class=asset,
            source=SOURCE, recv_ts=recv_us, instrument=instrument(symbol, asset),
        )  # fmt: skip
    except WireError as exc:
        raise MalformedResponse(at, f"{exc}") from None


def instrument(symbol: str, asset: AssetClass) -> str:
    """Yahoo's spelling → the canonical instrument."""
    if asset is AssetClass.CRYPTO:
        return split_pair(symbol)
    if asset is AssetClass.FX and symbol.upper().endswith("=X") and len(symbol) == 8:
        return pair(symbol[:3], symbol[3:6])
    if asset is AssetClass.INDEX:
        return symbol.upper()
    return equity(symbol)
