"""Binance public market streams (no key): one combined-stream connection for all symbols.

The streams are named in the URL (``/stream?streams=btcusdt@trade/btcusdt@bookTicker/...``),
so every reconnect resubscribes simply by opening the same URL. Frames are
``{"stream": name, "data": payload}``; anything else is either an error (``{"error": ...}``, or
``{"code":..,"msg":..}``; counted as ``vendor_error``) or unknown. A ``serverShutdown`` event
makes the client reconnect at once rather than wait to be cut off.

Sequence checks: Binance gives no per-connection sequence for trades; trade ids ``t`` are
contiguous per symbol, so a jump counts the missing trades as ``sequence_gap`` (the record is
kept) and a repeat is ``stale``. The tracker lives in the vendor, across reconnects, so trades
lost while disconnected are counted too. ``bookTicker``'s update id ``u`` only grows (it counts
order-book updates, most of which the stream does not send): a ``u`` not above the last is stale.
Open klines (``x`` false) are counted as ``bar_not_closed``; only closed ones become bars.
"""

from __future__ import annotations

from loguru import logger

from pipeline.codec import Record
from pipeline.sources.live import binance_map
from pipeline.sources.live.errors import RetryableFeedError
from pipeline.sources.live.sequence import SequenceTracker
from pipeline.sources.live.session import (
    BAR_NOT_CLOSED,
    MALFORMED,
    STALE,
    UNKNOWN_TYPE,
    VENDOR_ERROR,
    Decoded,
    messages_of,
    trade_id_ok,
)
from pipeline.sources.live.wire import WireError, get, integer, text
from tickwatch.market_hours import MarketOpen

BASE_URL = "wss://stream.binance.com:9443"
STREAMS = ("trade", "bookTicker", "kline_1m")


class BinanceSession:
    """One connection's decoding; trade ids are checked by the vendor-wide tracker."""

    def __init__(self, trade_ids: SequenceTracker) -> None:
        self._trade_ids = trade_ids
        self._updates = SequenceTracker(contiguous=False)

    def opening(self) -> list[str]:
        return []  # the URL carries the subscription

    def on_frame(self, frame: str | bytes, recv_us: int) -> Decoded:
        out = Decoded()
        for msg in messages_of(frame, out):
            data, stream = msg.get("data"), msg.get("stream")
            if isinstance(data, dict) and isinstance(stream, str):
                self._payload(stream, data, recv_us, out)
            elif "error" in msg or "code" in msg:
                logger.warning("binance: error {msg}", msg=msg)
                out.drop(VENDOR_ERROR)
            else:
                out.drop(UNKNOWN_TYPE)
        return out

    def _payload(self, stream: str, data: dict[str, object], recv_us: int, out: Decoded) -> None:
        kind = stream.partition("@")[2]
        try:
            record = self._map(kind, data, recv_us, out)
        except WireError as exc:
            logger.debug("binance: malformed {stream} payload: {err}", stream=stream, err=exc)
            out.drop(MALFORMED)
            return
        if record is not None:
            out.records.append(record)

    def _map(self, kind: str, data: dict[str, object], recv_us: int, out: Decoded) -> Record | None:
        if data.get("e") == "serverShutdown":
            out.stop = RetryableFeedError("binance: server shutdown announced")
            return None
        if kind == "trade":
            return self._trade(data, recv_us, out)
        if kind == "bookTicker":
            return self._quote(data, recv_us, out)
        if kind.startswith("kline_"):
            k = get(data, "k")
            if not isinstance(k, dict):
                raise WireError("k is not an object")
            if get(k, "x") is not True:
                out.drop(BAR_NOT_CLOSED)
                return None
            return binance_map.kline(k, recv_us)
        out.drop(UNKNOWN_TYPE)
        return None

    def _trade(self, data: dict[str, object], recv_us: int, out: Decoded) -> Record | None:
        record = binance_map.trade(data, recv_us)
        if not trade_id_ok("binance", self._trade_ids, record, out):
            out.drop(STALE)
            return None
        return record

    def _quote(self, data: dict[str, object], recv_us: int, out: Decoded) -> Record | None:
        record = binance_map.book_ticker(data, recv_us)
        if self._updates.check(record.symbol, integer(get(data, "u"))).stale:
            out.drop(STALE)
            return None
        return record


class BinanceVendor:
    """Trades, book tickers and closed 1-minute klines for the configured symbols."""

    name = binance_map.SOURCE

    def __init__(self, symbols: list[str], *, market: MarketOpen, url: str = "") -> None:
        names = [f"{text(s).lower()}@{stream}" for s in symbols for stream in STREAMS]
        self._url = f"{(url or BASE_URL).rstrip('/')}/stream?streams={'/'.join(names)}"
        self._trade_ids = SequenceTracker(contiguous=True)
        self.market = market

    def url(self) -> str:
        return self._url

    def session(self) -> BinanceSession:
        return BinanceSession(self._trade_ids)
