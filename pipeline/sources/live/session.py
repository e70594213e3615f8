"""The contract between the reconnecting WebSocket client and one vendor's protocol.

A :class:`Vendor` knows its URL, its market hours and how to start a :class:`Session`; a session
lives for one connection. The client sends :meth:`Session.opening` frames right after the
WebSocket handshake, then feeds every received frame to :meth:`Session.on_frame`, sends the
replies it returns (auth, subscribe) and yields its records. Control flow that needs the
connection gone is an exception: :class:`~pipeline.sources.live.errors.RetryableFeedError`
(reconnect after backoff) or :class:`~pipeline.sources.live.errors.FatalFeedError` (stop).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import orjson
from loguru import logger

from pipeline.codec import Record, Trade
from pipeline.sources.live.errors import LiveSourceError
from pipeline.sources.live.sequence import SequenceTracker
from pipeline.sources.live.wire import WireError
from tickwatch.market_hours import MarketOpen

# Why a vendor message did not become a record (label values of tickwatch_source_dropped_total).
MALFORMED = "malformed"  # not JSON, wrong shape, a field of the wrong type
UNKNOWN_TYPE = "unknown_type"  # a message type we do not map (vendors add types at any time)
SEQUENCE_GAP = "sequence_gap"  # messages the vendor numbered but we never received
STALE = "stale"  # a duplicate or out-of-order message (sequence not above the last one)
VENDOR_ERROR = "vendor_error"  # an error message from the vendor that did not end the session
BAR_NOT_CLOSED = "bar_not_closed"  # an interim kline update; only closed bars become records
DUPLICATE = "duplicate"  # a trade whose natural key is already in the source's trade ledger


@dataclass
class Decoded:
    """What one frame produced."""

    records: list[Record] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    drops: Counter[str] = field(default_factory=Counter)
    messages: int = 0
    stop: LiveSourceError | None = None  # raised by the client after the records are yielded

    def drop(self, reason: str, n: int = 1) -> None:
        """Count ``n`` vendor messages lost for ``reason``."""
        if n > 0:
            self.drops[reason] += n


class Session(Protocol):
    """One connection's protocol state (authenticated? subscribed? sequence numbers)."""

    def opening(self) -> list[str]:
        """Frames to send as soon as the WebSocket is open (may be empty)."""
        ...

    def on_frame(self, frame: str | bytes, recv_us: int) -> Decoded:
        """Decode one frame received at ``recv_us``. Never raises: bad data is counted in
        ``drops``, and a control message that ends the connection is put in ``stop``."""
        ...


class Vendor(Protocol):
    """A market-data vendor's WebSocket feed."""

    name: str
    market: MarketOpen

    def url(self) -> str:
        """The URL to connect to (including any stream list in the query)."""
        ...

    def session(self) -> Session:
        """A fresh session for a new connection."""
        ...


def load_json(frame: str | bytes) -> object:
    """Parse a frame as JSON; raises :class:`WireError` if it is not."""
    try:
        return orjson.loads(frame)
    except orjson.JSONDecodeError:
        raise WireError("frame is not JSON") from None


def dump_json(message: object) -> str:
    """Serialise an outgoing control message."""
    return orjson.dumps(message).decode()


def messages_of(frame: str | bytes, out: Decoded) -> list[dict[str, object]]:
    """The JSON objects in a frame (one object, or an array of them), counted in ``out``.

    A frame that is not JSON counts as one malformed message; non-object array items too.
    """
    try:
        payload = load_json(frame)
    except WireError:
        out.messages += 1
        out.drop(MALFORMED)
        return []
    items = payload if isinstance(payload, list) else [payload]
    out.messages += len(items)
    objects = [item for item in items if isinstance(item, dict)]
    out.drop(MALFORMED, len(items) - len(objects))
    return objects


def trade_id_ok(vendor: str, trade_ids: SequenceTracker, trade: Trade, out: Decoded) -> bool:
    """Check ``trade``'s id against the vendor's contiguous per-symbol ``trade_ids``.

    False when the id is stale (the caller drops the trade as ``stale``). A jump forward is
    logged and counted as ``sequence_gap`` drops for the trades never received; the trade is kept.
    """
    check = trade_ids.check(trade.symbol, int(trade.trade_id))
    if check.missing:
        logger.warning(
            "{vendor}: {symbol} trade ids jumped to {got}, expected {expected}",
            vendor=vendor,
            symbol=trade.symbol,
            got=trade.trade_id,
            expected=check.expected,
        )
        out.drop(SEQUENCE_GAP, check.missing)
    return not check.stale
