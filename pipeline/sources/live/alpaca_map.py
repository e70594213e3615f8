"""Alpaca market data stream v2 messages → tickwatch records.

Documented shapes (stocks ``v2/{iex,sip}``; crypto ``v1beta3/crypto/us`` omits exchanges)::

    {"T":"t","S":"AAPL","i":96921,"x":"D","p":126.55,"s":1,"c":["@","I"],"z":"C",
     "t":"2021-02-22T15:51:44.208Z"}
    {"T":"q","S":"AMD","bx":"U","bp":87.66,"bs":1,"ax":"Q","ap":87.68,"as":4,"c":["R"],"z":"C",
     "t":"2021-02-22T15:51:45.335689322Z"}
    {"T":"b","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49378,"n":461,
     "vw":389.06,"t":"2021-02-22T19:15:00Z"}

Times (RFC 3339, up to ns) become µs, truncated. ``x``/``bx``/``ax`` are Alpaca's one-letter
exchange codes, kept as they are; ``c`` condition codes likewise. The tape ``z`` has no field in
the records and is not kept. Crypto trades carry the taker side ``tks`` (``B``/``S``), which
becomes the only condition: the same aggressor-side convention as the Binance and Coinbase
mappers. Bars (``T=b``) are minute bars starting at ``t``.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.records import AssetClass, Bar, Quote, Record, Trade
from pipeline.sources.live.wire import get, integer, number, rfc3339_us, strings, text

SOURCE = "alpaca"
Message = dict[str, object]


def trade(msg: Message, recv_us: int, asset: AssetClass) -> Trade:
    """``T=t`` → :class:`Trade`."""
    conditions = strings(msg.get("tks")) if asset is AssetClass.CRYPTO else strings(msg.get("c"))
    return Trade(
        symbol=text(get(msg, "S")),
        ts=rfc3339_us(get(msg, "t")),
        price=number(get(msg, "p")),
        size=number(get(msg, "s")),
        asset_class=asset,
        exchange=str(msg.get("x", "")),
        trade_id=str(integer(get(msg, "i"))),
        conditions=conditions,
        source=SOURCE,
        recv_ts=recv_us,
    )


def quote(msg: Message, recv_us: int, asset: AssetClass) -> Quote:
    """``T=q`` → :class:`Quote`."""
    return Quote(
        symbol=text(get(msg, "S")),
        ts=rfc3339_us(get(msg, "t")),
        bid_price=number(get(msg, "bp")),
        bid_size=number(get(msg, "bs")),
        ask_price=number(get(msg, "ap")),
        ask_size=number(get(msg, "as")),
        asset_class=asset,
        bid_exchange=str(msg.get("bx", "")),
        ask_exchange=str(msg.get("ax", "")),
        conditions=strings(msg.get("c")),
        source=SOURCE,
        recv_ts=recv_us,
    )


def bar(msg: Message, recv_us: int, asset: AssetClass) -> Bar:
    """``T=b`` (minute bar) → :class:`Bar` with ``interval_s`` 60."""
    return Bar(
        symbol=text(get(msg, "S")),
        ts=rfc3339_us(get(msg, "t")),
        interval_s=60,
        open=number(get(msg, "o")),
        high=number(get(msg, "h")),
        low=number(get(msg, "l")),
        close=number(get(msg, "c")),
        volume=number(get(msg, "v")),
        vwap=number(msg.get("vw", 0.0)),
        trade_count=integer(msg.get("n", 0)),
        asset_class=asset,
        source=SOURCE,
        recv_ts=recv_us,
    )


MAPPERS: dict[object, Callable[[Message, int, AssetClass], Record]] = {
    "t": trade,
    "q": quote,
    "b": bar,
}
