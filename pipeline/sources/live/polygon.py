"""Polygon WebSocket: connect → status → auth ``{"action":"auth","params":KEY}`` → subscribe.

Status messages (documented): the greeting on connect, ``"auth_success"``, ``"auth_failed"``
(fatal, counted as an auth failure), ``"success"`` (subscription ack) and ``"max_connections"``.
The greeting is ``{"ev":"status","status":"connected","message":"Connected Successfully"}`` on
the wire, while the documentation's connect example shows ``"status":"success"`` with the same
message: the session authenticates on the first ``connected`` *or* ``success`` status that
arrives before it has authenticated; later ``success`` statuses are subscription acks.

Statuses that end the session (reconnect after the backoff delay): ``max_connections``,
``force_disconnect`` (the server closed this connection, e.g. another one opened with the same
key) and ``slow_consumer`` (we fell behind the server's buffer). Other statuses are logged and
counted as ``vendor_error``.

Sequence checks: stock trades and quotes carry ``q``, "increasing and unique per ticker symbol,
but not always sequential" (Polygon's words), and it starts again every trading session. So ``q``
can prove a message stale — not above the last ``q`` for that symbol and event type *in the same
session* — but cannot prove a gap. The session is the message's trading day in New York time
(Polygon's pre-market opens 04:00 ET, after-hours ends 20:00 ET, so midnight ET is between
sessions): a connection held overnight starts each symbol afresh with the new day's ``q``
instead of dropping every quote as stale until ``q`` passes yesterday's maximum. Crypto events
carry no sequence number.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from loguru import logger
from pydantic import SecretStr

from pipeline.sources.live import polygon_map
from pipeline.sources.live.errors import AuthenticationError, FatalFeedError, RetryableFeedError
from pipeline.sources.live.sequence import SequenceTracker
from pipeline.sources.live.session import (
    MALFORMED,
    STALE,
    UNKNOWN_TYPE,
    VENDOR_ERROR,
    Decoded,
    dump_json,
    messages_of,
)
from pipeline.sources.live.wire import WireError, integer, millis_us
from tickwatch.market_hours import MarketOpen

URLS = {"stocks": "wss://socket.polygon.io/stocks", "crypto": "wss://socket.polygon.io/crypto"}
CHANNELS = {"stocks": ("T", "Q", "A", "AM"), "crypto": ("XT", "XQ", "XA", "XAS")}
SESSION_ZONE = ZoneInfo("America/New_York")
GREETINGS = frozenset({"connected", "success"})  # before auth: the wire's and the docs' greeting
RECONNECT = frozenset({"max_connections", "force_disconnect", "slow_consumer"})


def session_day(msg: dict[str, object]) -> str:
    """The trading session a message belongs to: its New York calendar day (``2026-03-09``)."""
    return _new_york_day(millis_us(msg.get("t")) // 3_600_000_000)


@lru_cache(maxsize=64)
def _new_york_day(utc_hour: int) -> str:
    # New York's UTC offset is a whole number of hours, so the day is constant within an hour.
    return datetime.fromtimestamp(utc_hour * 3600, SESSION_ZONE).date().isoformat()


class PolygonSession:
    """One connection: authenticates on ``connected``, subscribes on ``auth_success``."""

    def __init__(self, api_key: SecretStr, params: str) -> None:
        self._api_key = api_key
        self._params = params
        self._sequence = SequenceTracker(contiguous=False)
        self._auth_sent = False

    def opening(self) -> list[str]:
        return []  # Polygon speaks first ("connected")

    def on_frame(self, frame: str | bytes, recv_us: int) -> Decoded:
        out = Decoded()
        for msg in messages_of(frame, out):
            event = msg.get("ev")
            mapper = polygon_map.MAPPERS.get(event)
            if event == "status":
                self._status(msg, out)
            elif mapper is None:
                out.drop(UNKNOWN_TYPE)
            else:
                try:
                    if not self._stale(msg):
                        out.records.append(mapper(msg, recv_us))
                    else:
                        out.drop(STALE)
                except WireError as exc:
                    logger.debug("polygon: malformed {ev} message: {err}", ev=event, err=exc)
                    out.drop(MALFORMED)
        return out

    def _stale(self, msg: dict[str, object]) -> bool:
        if "q" not in msg:
            return False
        key = f"{msg.get('ev')}:{polygon_map.symbol_of(msg)}:{session_day(msg)}"
        return self._sequence.check(key, integer(msg["q"])).stale

    def _status(self, msg: dict[str, object], out: Decoded) -> None:
        status, text = msg.get("status"), msg.get("message")
        if status in GREETINGS and not self._auth_sent:
            self._auth_sent = True
            key = self._api_key.get_secret_value()
            out.replies.append(dump_json({"action": "auth", "params": key}))
        elif status == "auth_success":
            out.replies.append(dump_json({"action": "subscribe", "params": self._params}))
        elif status in GREETINGS:
            logger.info("polygon: {text}", text=text)
        elif status == "auth_failed":
            out.stop = AuthenticationError(f"polygon: {text}")
        elif status in RECONNECT:
            logger.warning("polygon: {status}: {text}", status=status, text=text)
            out.stop = RetryableFeedError(f"polygon: {status}: {text}")
        else:
            logger.warning("polygon: status {status}: {text}", status=status, text=text)
            out.drop(VENDOR_ERROR)


class PolygonVendor:
    """Polygon's stocks or crypto cluster."""

    name = polygon_map.SOURCE

    def __init__(
        self,
        symbols: list[str],
        *,
        api_key: SecretStr,
        cluster: str,
        market: MarketOpen,
        url: str = "",
    ) -> None:
        if not api_key.get_secret_value():
            raise FatalFeedError(
                "polygon needs TICKWATCH_SOURCES_POLYGON_API_KEY (or the key in the secrets file)"
            )
        self._api_key = api_key
        self._params = ",".join(f"{ch}.{s}" for ch in CHANNELS[cluster] for s in symbols)
        self._url = url or URLS[cluster]
        self.market = market

    def url(self) -> str:
        return self._url

    def session(self) -> PolygonSession:
        return PolygonSession(self._api_key, self._params)
