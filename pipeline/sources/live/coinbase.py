"""Coinbase Exchange public feed: subscribe to ``matches``, ``ticker`` and ``heartbeat``.

The client speaks first (Coinbase disconnects a client that has not subscribed within seconds):
``{"type":"subscribe","product_ids":[...],"channels":["matches","ticker","heartbeat"]}``, acked
by a ``subscriptions`` message. Heartbeats (one per product per second) keep the stall detector
quiet and carry no records. ``error`` messages: "Failed to subscribe" (an unknown product) is
fatal, any other error reconnects after the backoff delay.

Sequence checks. ``sequence`` numbers each product's full order-book feed; the ``matches`` and
``ticker`` channels carry only some of those messages, so on them ``sequence`` jumps by design
and only proves a message *stale* (not above the last one seen on this connection for that
channel and product: dropped). Gaps are found with ``trade_id``, contiguous per product: a jump
counts the missing trades as ``sequence_gap`` and is logged. That tracker lives in the vendor,
across reconnects, so trades lost while disconnected are counted and the ``last_match`` replayed
after a resubscribe is dropped as stale instead of duplicated.
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from pipeline.codec import Quote, Trade
from pipeline.sources.live import coinbase_map
from pipeline.sources.live.errors import FatalFeedError, RetryableFeedError
from pipeline.sources.live.sequence import SequenceTracker
from pipeline.sources.live.session import (
    MALFORMED,
    STALE,
    UNKNOWN_TYPE,
    Decoded,
    dump_json,
    messages_of,
    trade_id_ok,
)
from pipeline.sources.live.wire import WireError, get, integer
from tickwatch.market_hours import MarketOpen

URL = "wss://ws-feed.exchange.coinbase.com"
CHANNELS = ("matches", "ticker", "heartbeat")
_MAPPERS: dict[object, Callable[[dict[str, object], int], Trade | Quote]] = {
    "match": coinbase_map.match,
    "last_match": coinbase_map.match,
    "ticker": coinbase_map.ticker,
}


class CoinbaseSession:
    """One connection: subscribe on open, then map matches and tickers."""

    def __init__(self, products: list[str], trade_ids: SequenceTracker) -> None:
        self._products = products
        self._trade_ids = trade_ids
        self._sequence = SequenceTracker(contiguous=False)

    def opening(self) -> list[str]:
        subscribe = {"type": "subscribe", "product_ids": self._products, "channels": CHANNELS}
        return [dump_json(subscribe)]

    def on_frame(self, frame: str | bytes, recv_us: int) -> Decoded:
        out = Decoded()
        for msg in messages_of(frame, out):
            kind = msg.get("type")
            if kind in _MAPPERS:
                self._data(msg, recv_us, out)
            elif kind == "heartbeat":
                continue
            elif kind == "subscriptions":
                logger.info("coinbase: subscribed {channels}", channels=msg.get("channels"))
            elif kind == "error":
                out.stop = _error(msg)
            else:
                out.drop(UNKNOWN_TYPE)
        return out

    def _data(self, msg: dict[str, object], recv_us: int, out: Decoded) -> None:
        try:
            record = _MAPPERS[msg["type"]](msg, recv_us)
            sequence = integer(get(msg, "sequence"))
        except WireError as exc:
            logger.debug("coinbase: malformed {type} message: {err}", type=msg["type"], err=exc)
            out.drop(MALFORMED)
            return
        channel = "ticker" if isinstance(record, Quote) else "match"
        stale = self._sequence.check(f"{channel}:{record.symbol}", sequence).stale
        if not stale and isinstance(record, Trade):
            stale = not trade_id_ok("coinbase", self._trade_ids, record, out)
        if stale:
            out.drop(STALE)
            return
        out.records.append(record)


def _error(msg: dict[str, object]) -> FatalFeedError | RetryableFeedError:
    text, reason = msg.get("message"), msg.get("reason")
    logger.error("coinbase: error {text} ({reason})", text=text, reason=reason)
    if isinstance(text, str) and text.startswith("Failed to subscribe"):
        return FatalFeedError(f"coinbase: {text} ({reason})")
    return RetryableFeedError(f"coinbase: {text} ({reason})")


class CoinbaseVendor:
    """Matches and tickers for the configured products (``BTC-USD``...)."""

    name = coinbase_map.SOURCE

    def __init__(self, products: list[str], *, market: MarketOpen, url: str = "") -> None:
        self._products = products
        self._url = url or URL
        self._trade_ids = SequenceTracker(contiguous=True)
        self.market = market

    def url(self) -> str:
        return self._url

    def session(self) -> CoinbaseSession:
        return CoinbaseSession(self._products, self._trade_ids)
