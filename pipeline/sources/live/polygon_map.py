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
Polygon's integer ids, kept as decimal strings in ``exchange``; ``venue`` is their MIC from
Polygon's exchanges table (:mod:`~pipeline.sources.live.instruments`). Stock condition codes are
kept as strings and decide the trade's candle eligibility flags (Polygon's condition
``update_rules``, :mod:`pipeline.sources.conditions`); a stock trade's tape ``z`` (1, 2, 3) is
kept as ``A``/``B``/``C``. Crypto trade conditions 1 (sell side) and 2 (buy side) name the
aggressor, so they become the aggressor-side condition ``S`` / ``B`` that the Binance, Coinbase
and Alpaca crypto mappers emit; any other crypto code is kept as it is.

Stock quote sizes ``bs``/``as`` are "the number of round lot orders ... The normal round lot
size is 100 shares" (Polygon's quotes reference): they are stored as shares (x 100) with
``lot_size`` 100. Crypto quote sizes are coin amounts (``lot_size`` 1).

Bars start at ``s`` and last ``e - s`` (whole seconds); the event type (``A``/``XAS`` per
second, ``AM``/``XA`` per minute) is the fallback when ``e`` is missing. Polygon sends no trade
count, so ``trade_count`` is 0, and in aggregates ``z`` is the average trade size (not a tape),
which the records do not hold. Quotes' ``c`` is one condition.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.codec import AssetClass, Bar, Quote, Record, Trade
from pipeline.sources.conditions import ALL, polygon_eligibility
from pipeline.sources.live.instruments import equity, polygon_venue, split_pair
from pipeline.sources.live.wire import WireError, get, integer, millis_us, number, strings, text

SOURCE = "polygon"
Message = dict[str, object]
BAR_SECONDS = {"A": 1, "AM": 60, "XAS": 1, "XA": 60}
ROUND_LOT = 100  # shares per round lot in stock quote sizes (Polygon's quotes reference)
TAPES = {"1": "A", "2": "B", "3": "C"}  # Polygon stock trades' z: 1 NYSE, 2 AMEX, 3 Nasdaq
CRYPTO_SIDE = {"1": "S", "2": "B"}  # Polygon crypto conditions: 1 sellside, 2 buyside


def symbol_of(msg: Message) -> str:
    """``sym`` (stocks) or ``pair`` (crypto)."""
    return text(msg["sym"] if "sym" in msg else get(msg, "pair"))


def asset_of(msg: Message) -> AssetClass:
    return AssetClass.CRYPTO if str(msg.get("ev", "")).startswith("X") else AssetClass.EQUITY


def instrument_of(msg: Message) -> str:
    """The canonical instrument: ``BTC-USD`` → ``BTC/USD``; stock tickers as they are."""
    symbol = symbol_of(msg)
    return split_pair(symbol) if asset_of(msg) is AssetClass.CRYPTO else equity(symbol)


def trade(msg: Message, recv_us: int) -> Trade:
    """``T`` / ``XT`` → :class:`Trade`."""
    crypto = asset_of(msg) is AssetClass.CRYPTO
    conditions = strings(msg.get("c"))
    if crypto:
        conditions = tuple(CRYPTO_SIDE.get(c, c) for c in conditions)
    exchange = str(msg.get("x", ""))
    rules = ALL if crypto else polygon_eligibility(conditions)
    return Trade(
        symbol=symbol_of(msg),
        ts=millis_us(get(msg, "t")),
        price=number(get(msg, "p")),
        size=number(get(msg, "s")),
        asset_class=asset_of(msg),
        exchange=exchange,
        trade_id=str(msg.get("i", "")),
        conditions=conditions,
        source=SOURCE,
        recv_ts=recv_us,
        instrument=instrument_of(msg),
        venue=polygon_venue(exchange, crypto),
        tape=TAPES.get(str(msg.get("z", "")), ""),
        updates_open_close=rules.open_close,
        updates_high_low=rules.high_low,
        updates_volume=rules.volume,
    )


def quote(msg: Message, recv_us: int) -> Quote:
    """``Q`` / ``XQ`` → :class:`Quote` (crypto quotes name one exchange for both sides)."""
    crypto = asset_of(msg) is AssetClass.CRYPTO
    venue = str(msg.get("x", ""))
    bid_exchange, ask_exchange = str(msg.get("bx", venue)), str(msg.get("ax", venue))
    lot = 1 if crypto else ROUND_LOT
    return Quote(
        symbol=symbol_of(msg),
        ts=millis_us(get(msg, "t")),
        bid_price=number(get(msg, "bp")),
        bid_size=number(get(msg, "bs")) * lot,
        ask_price=number(get(msg, "ap")),
        ask_size=number(get(msg, "as")) * lot,
        asset_class=asset_of(msg),
        bid_exchange=bid_exchange,
        ask_exchange=ask_exchange,
        conditions=strings(msg.get("c")),
        source=SOURCE,
        recv_ts=recv_us,
        instrument=instrument_of(msg),
        bid_venue=polygon_venue(bid_exchange, crypto),
        ask_venue=polygon_venue(ask_exchange, crypto),
        lot_size=lot,
    )


def interval_of(msg: Message) -> int:
    """Bar length in seconds: ``e - s`` when ``e`` is sent, else the event type's."""
    if "e" not in msg:
        return BAR_SECONDS[str(msg.get("ev"))]
    span_ms = integer(msg["e"]) - integer(get(msg, "s"))
    if span_ms <= 0 or span_ms % 1000:
        raise WireError(f"bar end e - start s = {span_ms} ms is not a positive whole second")
    return span_ms // 1000


def bar(msg: Message, recv_us: int) -> Bar:
    """``A`` / ``AM`` / ``XAS`` / ``XA`` → :class:`Bar` from ``s`` to ``e``."""
    return Bar(
        symbol=symbol_of(msg),
        ts=millis_us(get(msg, "s")),
        interval_s=interval_of(msg),
        open=number(get(msg, "o")),
        high=number(get(msg, "h")),
        low=number(get(msg, "l")),
        close=number(get(msg, "c")),
        volume=number(get(msg, "v")),
        vwap=number(msg.get("vw", 0.0)),
        asset_class=asset_of(msg),
        source=SOURCE,
        recv_ts=recv_us,
        instrument=instrument_of(msg),
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
