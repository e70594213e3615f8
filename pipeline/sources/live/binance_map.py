"""Binance public stream payloads (``trade``, ``bookTicker``, ``kline``) → tickwatch records.

Documented payloads (inside the combined stream's ``{"stream": ..., "data": ...}``)::

    trade       {"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100",
                 "T":1672515782136,"m":true,"M":true}
    bookTicker  {"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000",
                 "a":"25.36520000","A":"40.66000000"}
    kline       {"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,
                 "T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010",
                 "c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":false,
                 "q":"1.0000","V":"500","Q":"0.500","B":"123456"}}

Prices and quantities are decimal strings, parsed exactly with ``Decimal`` then rounded once to
the nearest float. Trade time ``T`` and kline start ``k.t`` are epoch ms (→ µs). ``bookTicker``
has no event time at all: its ``ts`` is our receive time (``recv_ts``), so quote latency from
Binance is always zero by construction. ``m`` (buyer is the maker) becomes the aggressor-side
condition: ``S`` when the buyer made (the seller took), else ``B``. Kline ``vwap`` is quote
volume ``q`` / base volume ``v``. Every record has exchange and venue ``BINANCE`` (no MIC),
asset class crypto and the instrument ``BASE/QUOTE`` split at the quote asset (``BTCUSDT`` →
``BTC/USDT``).
"""

from __future__ import annotations

from pipeline.codec import AssetClass, Bar, Quote, Trade
from pipeline.sources.live.instruments import binance_pair
from pipeline.sources.live.wire import (
    WireError,
    decimal_exact,
    decimal_text,
    get,
    integer,
    millis_us,
    text,
)

SOURCE = "binance"
VENUE = "BINANCE"
Message = dict[str, object]
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def trade(data: Message, recv_us: int) -> Trade:
    """``trade`` → :class:`Trade` (``trade_id`` = ``t``)."""
    buyer_made = get(data, "m")
    if not isinstance(buyer_made, bool):
        raise WireError(f"m is not a bool: {buyer_made!r}")
    return Trade(
        symbol=text(get(data, "s")),
        ts=millis_us(get(data, "T")),
        price=decimal_text(get(data, "p")),
        size=decimal_text(get(data, "q")),
        asset_class=AssetClass.CRYPTO,
        exchange=VENUE,
        trade_id=str(integer(get(data, "t"))),
        conditions=("S",) if buyer_made else ("B",),
        source=SOURCE,
        recv_ts=recv_us,
        instrument=binance_pair(text(get(data, "s"))),
        venue=VENUE,
    )


def book_ticker(data: Message, recv_us: int) -> Quote:
    """``bookTicker`` → :class:`Quote`; ``ts`` is the receive time (Binance sends none)."""
    return Quote(
        symbol=text(get(data, "s")),
        ts=recv_us,
        bid_price=decimal_text(get(data, "b")),
        bid_size=decimal_text(get(data, "B")),
        ask_price=decimal_text(get(data, "a")),
        ask_size=decimal_text(get(data, "A")),
        asset_class=AssetClass.CRYPTO,
        bid_exchange=VENUE,
        ask_exchange=VENUE,
        source=SOURCE,
        recv_ts=recv_us,
        instrument=binance_pair(text(get(data, "s"))),
        bid_venue=VENUE,
        ask_venue=VENUE,
    )


def kline(k: Message, recv_us: int) -> Bar:
    """A closed kline (``k`` with ``x`` true) → :class:`Bar` starting at ``k.t``."""
    volume = decimal_exact(get(k, "v"))
    quote_volume = decimal_exact(get(k, "q"))
    return Bar(
        symbol=text(get(k, "s")),
        ts=millis_us(get(k, "t")),
        interval_s=interval_seconds(get(k, "i")),
        open=decimal_text(get(k, "o")),
        high=decimal_text(get(k, "h")),
        low=decimal_text(get(k, "l")),
        close=decimal_text(get(k, "c")),
        volume=float(volume),
        vwap=float(quote_volume / volume) if volume else 0.0,
        trade_count=integer(get(k, "n")),
        asset_class=AssetClass.CRYPTO,
        source=SOURCE,
        recv_ts=recv_us,
        instrument=binance_pair(text(get(k, "s"))),
    )


def interval_seconds(value: object) -> int:
    """``"1s"``, ``"1m"``, ``"4h"``, ``"1d"``, ``"1w"`` → seconds (months have no fixed length)."""
    label = text(value)
    count, unit = label[:-1], label[-1]
    if not count.isdigit() or unit not in _UNIT_SECONDS:
        raise WireError(f"unsupported kline interval: {label!r}")
    return int(count) * _UNIT_SECONDS[unit]
