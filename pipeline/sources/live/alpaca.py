"""Alpaca market data stream: connect → ``connected`` → auth → ``authenticated`` → subscribe.

Control messages (documented): ``{"T":"success","msg":"connected"|"authenticated"}``,
``{"T":"subscription","trades":[...],"quotes":[...],"bars":[...]}`` and
``{"T":"error","code":402,"msg":"auth failed"}``. Error codes (Alpaca's stream documentation)
decide what happens next: 402 (auth failed) and 409 (insufficient subscription) are
authentication failures; 400 (invalid syntax), 401 (not authenticated), 403 (already
authenticated), 405 (symbol limit exceeded), 408 (v2 not enabled), 410 (invalid subscribe action
for this feed) and 411 (insufficient scope) are fatal: the account, the plan or our request is
wrong, and a new connection would get the same answer. 404 (auth timeout), 406 (connection limit
exceeded), 407 (slow client) and 500 (internal error) reconnect after the backoff delay; so does
a code Alpaca adds later, counted and logged.

Trade corrections (``T=c``) and cancels/errors (``T=x``) arrive with a symbol's trades; they
become :class:`~pipeline.codec.TradeCorrection` records
(:mod:`~pipeline.sources.live.corrections`) produced to the corrections topic, never
``unknown_type``.
Alpaca has no sequence numbers; trade ids are per exchange and not contiguous, so there is no
gap detection for this vendor.
"""

from __future__ import annotations

from loguru import logger
from pydantic import SecretStr

from pipeline.codec import AssetClass
from pipeline.sources.live import alpaca_map, corrections
from pipeline.sources.live.errors import AuthenticationError, FatalFeedError, RetryableFeedError
from pipeline.sources.live.session import (
    MALFORMED,
    UNKNOWN_TYPE,
    Decoded,
    dump_json,
    messages_of,
)
from pipeline.sources.live.wire import WireError
from tickwatch.market_hours import MarketOpen

STOCKS_URL = "wss://stream.data.alpaca.markets/v2/{feed}"
CRYPTO_URL = "wss://stream.data.alpaca.markets/v1beta3/crypto/us"
AUTH_FAILURES = frozenset({402, 409})
FATAL = frozenset({400, 401, 403, 405, 408, 410, 411})
_ANNOUNCEMENTS = {"c": corrections.alpaca_correction, "x": corrections.alpaca_cancel}


class AlpacaSession:
    """One connection: waits for ``connected``, authenticates, subscribes, maps data."""

    def __init__(
        self, symbols: list[str], key_id: SecretStr, secret: SecretStr, asset: AssetClass
    ) -> None:
        self._symbols = symbols
        self._key_id = key_id
        self._secret = secret
        self._asset = asset

    def opening(self) -> list[str]:
        return []  # Alpaca speaks first ("connected")

    def on_frame(self, frame: str | bytes, recv_us: int) -> Decoded:
        out = Decoded()
        for msg in messages_of(frame, out):
            kind = msg.get("T")
            mapper = alpaca_map.MAPPERS.get(kind)
            if mapper is not None:
                try:
                    out.records.append(mapper(msg, recv_us, self._asset))
                except WireError as exc:
                    logger.debug("alpaca: malformed {kind} message: {err}", kind=kind, err=exc)
                    out.drop(MALFORMED)
            elif kind in _ANNOUNCEMENTS:
                _announcement(msg, out, recv_us)
            elif kind in ("success", "subscription", "error"):
                self._control(msg, out)
            else:
                out.drop(UNKNOWN_TYPE)
        return out

    def _control(self, msg: dict[str, object], out: Decoded) -> None:
        kind, text = msg.get("T"), msg.get("msg")
        if kind == "success" and text == "connected":
            out.replies.append(self._auth_frame())
        elif kind == "success" and text == "authenticated":
            subscribe = {"action": "subscribe", "trades": self._symbols}
            subscribe |= {"quotes": self._symbols, "bars": self._symbols}
            out.replies.append(dump_json(subscribe))
        elif kind == "subscription":
            logger.info("alpaca: subscribed {subscription}", subscription=msg)
        elif kind == "error":
            out.stop = _error(msg)

    def _auth_frame(self) -> str:
        key, secret = self._key_id.get_secret_value(), self._secret.get_secret_value()
        return dump_json({"action": "auth", "key": key, "secret": secret})


def _announcement(msg: dict[str, object], out: Decoded, recv_us: int) -> None:
    """A correction or cancel: a record for the corrections topic (malformed: a drop)."""
    parse = _ANNOUNCEMENTS[str(msg.get("T"))]
    try:
        announced = parse(msg, alpaca_map.SOURCE, recv_us)
    except WireError as exc:
        logger.debug("alpaca: malformed {kind} message: {err}", kind=msg.get("T"), err=exc)
        out.drop(MALFORMED)
        return
    logger.info("alpaca: trade {action}: {announced}", action=announced.action, announced=announced)
    out.records.append(announced)


def _error(msg: dict[str, object]) -> FatalFeedError | RetryableFeedError:
    code, text = msg.get("code"), msg.get("msg")
    logger.error("alpaca: error {code}: {text}", code=code, text=text)
    described = f"alpaca error {code}: {text}"
    if code in AUTH_FAILURES:
        return AuthenticationError(described)
    if code in FATAL:
        return FatalFeedError(described)
    return RetryableFeedError(described)


class AlpacaVendor:
    """Alpaca's stocks (``iex``/``sip``/``delayed_sip``) or crypto stream."""

    name = alpaca_map.SOURCE

    def __init__(
        self,
        symbols: list[str],
        *,
        key_id: SecretStr,
        secret: SecretStr,
        feed: str,
        market: MarketOpen,
        url: str = "",
    ) -> None:
        if not key_id.get_secret_value() or not secret.get_secret_value():
            raise FatalFeedError(
                "alpaca needs TICKWATCH_SOURCES_ALPACA_KEY_ID and "
                "TICKWATCH_SOURCES_ALPACA_SECRET_KEY (or the same keys in the secrets file)"
            )
        crypto = feed == "crypto"
        self._asset = AssetClass.CRYPTO if crypto else AssetClass.EQUITY
        self._url = url or (CRYPTO_URL if crypto else STOCKS_URL.format(feed=feed))
        self._symbols = symbols
        self._key_id = key_id
        self._secret = secret
        self.market = market

    def url(self) -> str:
        return self._url

    def session(self) -> AlpacaSession:
        return AlpacaSession(self._symbols, self._key_id, self._secret, self._asset)
