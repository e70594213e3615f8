"""Finnhub WebSocket trades: token in the URL, then one subscribe message per symbol.

Protocol (Finnhub's WebSocket reference): connect to ``wss://ws.finnhub.io?token=KEY``; send
``{"type":"subscribe","symbol":"AAPL"}`` for each symbol (and ``{"type":"unsubscribe",...}`` to
stop one: sent for every symbol when the source closes). The server sends batched ``trade``
messages (:mod:`~pipeline.sources.live.finnhub_map`), ``{"type":"ping"}`` to keep an idle
connection alive (counted as a message; it also keeps the stall detector quiet) and
``{"type":"error","msg":...}``.

Errors: a message about the API key or token is an authentication failure (fatal, counted);
one saying the plan does not cover a symbol or the subscription limit is reached is fatal (a
reconnect would get the same answer); anything else is logged and counted as ``vendor_error``
and the connection stays. A key Finnhub rejects at the HTTP handshake (401/403) is an
authentication failure too (:mod:`~pipeline.sources.live.client`). One API key allows one open
connection.

Finnhub sends no trade ids and documents no replay on reconnect: trades lost while disconnected
are not counted, and the trade ledger cannot guard Finnhub trades (nothing to key them on).
What a restart means for duplicates: nothing is read back or re-sent, so tickwatch adds none
(records Kafka had not acknowledged at a ``kill -9`` are lost, not sent twice); a trade Finnhub
itself sent twice would be stored twice. A guard on ``(symbol, t, p, v, c)`` is deliberately not
built: ``t`` is in milliseconds, and two real prints of one size at one price in the same
millisecond are ordinary on liquid symbols, so it would drop real trades.
"""

from __future__ import annotations

from urllib.parse import urlencode

from loguru import logger
from pydantic import SecretStr

from pipeline.sources.live import finnhub_map
from pipeline.sources.live.errors import AuthenticationError, FatalFeedError, LiveSourceError
from pipeline.sources.live.session import (
    MALFORMED,
    UNKNOWN_TYPE,
    VENDOR_ERROR,
    Decoded,
    dump_json,
    messages_of,
)
from pipeline.sources.live.wire import WireError
from tickwatch.market_hours import MarketOpen

URL = "wss://ws.finnhub.io"
PRICE_UPDATE = "price_update_not_trade"  # drop reason: a v = 0 last-price update
_AUTH_WORDS = ("api key", "token", "unauthorized", "authenticat")
_FATAL_WORDS = ("too many symbols", "subscription", "access", "premium", "not supported")


class FinnhubSession:
    """One connection: subscribe per symbol on open, map trade batches."""

    def __init__(self, symbols: list[str]) -> None:
        self._symbols = symbols

    def opening(self) -> list[str]:
        return [dump_json({"type": "subscribe", "symbol": s}) for s in self._symbols]

    def closing(self) -> list[str]:
        """Frames sent before the source closes the connection: unsubscribe every symbol."""
        return [dump_json({"type": "unsubscribe", "symbol": s}) for s in self._symbols]

    def on_frame(self, frame: str | bytes, recv_us: int) -> Decoded:
        out = Decoded()
        for msg in messages_of(frame, out):
            kind = msg.get("type")
            if kind == "trade":
                self._trades(msg, recv_us, out)
            elif kind == "ping":
                continue
            elif kind == "error":
                out.stop = _error(msg, out)
            else:
                out.drop(UNKNOWN_TYPE)
        return out

    def _trades(self, msg: dict[str, object], recv_us: int, out: Decoded) -> None:
        data = msg.get("data")
        if not isinstance(data, list):
            out.drop(MALFORMED)
            return
        out.messages += max(len(data) - 1, 0)  # one vendor message per trade in the batch
        for item in data:
            if not isinstance(item, dict):
                out.drop(MALFORMED)
            elif finnhub_map.is_price_update(item):
                out.drop(PRICE_UPDATE)
            else:
                try:
                    out.records.append(finnhub_map.trade(item, recv_us))
                except WireError as exc:
                    logger.debug("finnhub: malformed trade {item}: {err}", item=item, err=exc)
                    out.drop(MALFORMED)


def _error(msg: dict[str, object], out: Decoded) -> LiveSourceError | None:
    text = str(msg.get("msg", ""))
    lowered = text.lower()
    logger.error("finnhub: error {text}", text=text)
    if any(word in lowered for word in _AUTH_WORDS):
        return AuthenticationError(f"finnhub: {text}")
    if any(word in lowered for word in _FATAL_WORDS):
        return FatalFeedError(f"finnhub: {text}")
    out.drop(VENDOR_ERROR)
    return None


class FinnhubVendor:
    """Finnhub's trade stream for the configured symbols (``AAPL``, ``BINANCE:BTCUSDT``)."""

    name = finnhub_map.SOURCE

    def __init__(
        self, symbols: list[str], *, api_key: SecretStr, market: MarketOpen, url: str = ""
    ) -> None:
        if not api_key.get_secret_value():
            raise FatalFeedError(
                "finnhub needs TICKWATCH_SOURCES_FINNHUB_API_KEY (or the key in the secrets file)"
            )
        self._symbols = symbols
        self._api_key = api_key
        self._base = url or URL
        self.market = market

    def url(self) -> str:
        """The stream URL with the token as the ``token`` query parameter (never logged)."""
        separator = "&" if "?" in self._base else "?"
        query = urlencode({"token": self._api_key.get_secret_value()})
        return f"{self._base}{separator}{query}"

    def session(self) -> FinnhubSession:
        return FinnhubSession(self._symbols)
