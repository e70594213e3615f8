"""Polygon WebSocket messages (stocks and crypto clusters) → tickwatch records.

Documented shapes::

    stocks  {"ev":"T","sym":"MSFT","x":4,"i":"12345","z":3,"p":114.125,"s":100,"c":[0,12],
             "t":1536036818784,"q":3681328}
            {"ev":"Q","sym":"MSFT","bx":4,"bp":114.125,"bs":100,"ax":7,"ap":114.128,"as":160,
             "c":0,"t":1536036818784,"q":50385480,"z":3}
            {"ev":"A"|"AM","sym":"GTE","v":4110,"av":9470157,"op":0.4372,"vw":0.4488,"o":0.4488,
             "c":0.4486,"h":0.4489,"l":0.4486,"a":0.4352,"z":685,"s":1610144640000,
             "e":1610144700000}
    crypto  {"ev":"XT","pair":"BTC-USD","p":33021.9,"t":1610462007425,"s":0.01616617,"c":[2],
             "i":"14272084","x":1,"r":1610462007576}
            {"ev":"XQ","pair":"BTC-USD","lp":0,"ls":0,"bp":33052.79,"bs":0.48,"ap":33073.19,
             "as":0.05,"t":1610462411115,"x":1,"r":1610462411128}
            {"ev":"XA"|"XAS","pair":"BCD-BTC","v":951.6112,"vw":0.000087,"z":73,"o":0.000087,
             "c":0.000087,"h":0.000087,"l":0.000087,"s":1610463240000,"e":1610463300000}

``t``, ``s`` and ``e`` are epoch milliseconds (→ µs). Exchange ids (``x``, ``bx``, ``ax``) are
Polygon's integer ids, kept as decimal strings; condition codes likewise (crypto: 1 = sell side,
2 = buy side). ``A``/``XAS`` are per-second bars, ``AM``/``XA`` per-minute bars starting at
``s``; Polygon sends no trade count, so ``trade_count`` is 0, and in aggregates ``z`` is the
average trade size (not a tape), which the records do not hold. Quotes' ``c`` is one condition.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.records import AssetClass, Bar, Quote, Record, Trade
from pipeline.sources.live.wire import get, millis_us, number, strings, text

SOURCE = "polygon"
Message = dict[str, object]
BAR_SECONDS = {"A": 1, "AM": 60, "XAS": 1, "XA": 60}


def symbol_of(msg: Message) -> str:
    """``sym`` (stocks) or ``pair`` (crypto)."""
    return text(msg["sym"] if "sym" in msg else get(msg, "pair"))


def asset_of(msg: Message) -> AssetClass:
    return AssetClass.CRYPTO if str(msg.get("ev", "")).startswith("X") else AssetClass.EQUITY


def trade(msg: Message, recv_us: int) -> Trade:
    """``T`` / ``XT`` → :class:`Trade`."""
    return Trade(
        symbol=symbol_of(msg),
        ts=millis_us(get(msg, "t")),
        price=number(get(msg, "p")),
        size=number(get(msg, "s")),
        asset_class=asset_of(msg),
        exchange=str(msg.get("x", "")),
        trade_id=str(msg.get("i", "")),
        conditions=strings(msg.get("c")),
        source=SOURCE,
        recv_ts=recv_us,
    )


def quote(msg: Message, recv_us: int) -> Quote:
    """``Q`` / ``XQ`` → :class:`Quote` (crypto quotes name one exchange for both sides)."""
    venue = str(msg.get("x", ""))
    return Quote(
        symbol=symbol_of(msg),
        ts=millis_us(get(msg, "t")),
        bid_price=number(get(msg, "bp")),
        bid_size=number(get(msg, "bs")),
        ask_price=number(get(msg, "ap")),
        ask_size=number(get(msg, "as")),
        asset_class=asset_of(msg),
        bid_exchange=str(msg.get("bx", venue)),
        ask_exchange=str(msg.get("ax", venue)),
        conditions=strings(msg.get("c")),
        source=SOURCE,
        recv_ts=recv_us,
    )


def bar(msg: Message, recv_us: int) -> Bar:
    """``A`` / ``AM`` / ``XAS`` / ``XA`` → :class:`Bar` starting at ``s``."""
    return Bar(
        symbol=symbol_of(msg),
        ts=millis_us(get(msg, "s")),
        interval_s=BAR_SECONDS[str(msg.get("ev"))],
        open=number(get(msg, "o")),
        high=number(get(msg, "h")),
        low=number(get(msg, "l")),
        close=number(get(msg, "c")),
        volume=number(get(msg, "v")),
        vwap=number(msg.get("vw", 0.0)),
        asset_class=asset_of(msg),
        source=SOURCE,
        recv_ts=recv_us,
    )


MAPPERS: dict[object, Callable[[Message, int], Record]] = {
    "T": trade,
    "XT": trade,
    "Q": quote,
    "XQ": quote,
    "A": bar,
    "AM": bar,
    "XA": bar,
    "XAS": bar,
}
