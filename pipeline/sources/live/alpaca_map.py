"""Alpaca market data stream v2 messages → tickwatch records.

Documented shapes (stocks ``v2/{iex,sip}``; crypto ``v1beta3/crypto/us`` omits exchanges)::

    {"T":"t","S":"AAPL","i":96921,"x":"D","p":126.55,"s":1,"c":["@","I"],"z":"C",
     "t":"2021-02-22T15:51:44.208Z"}
    {"T":"q","S":"AMD","bx":"U","bp":87.66,"bs":1,"ax":"Q","ap":87.68,"as":4,"c":["R"],"z":"C",
     "t":"2021-02-22T15:51:45.335689322Z"}
    {"T":"b","S":"SPY","o":388.985,"h":389.13,"l":388.975,"c":389.12,"v":49378,"n":461,
     "vw":389.06,"t":"2021-02-22T19:15:00Z"}

Times (RFC 3339, up to ns) become µs, truncated. ``x``/``bx``/``ax`` are Alpaca's one-letter
exchange codes (the SIP participant ids), kept as they are in ``exchange``; ``venue`` is their MIC
(:mod:`~pipeline.sources.live.instruments`). ``c`` condition codes are kept as they are. Stock
quote sizes ``bs``/``as`` are round lots of 100 shares ("The Alpaca quote sizes are actually in
round lots: ... 15 * 100 = 1500 shares", Alpaca staff on forum.alpaca.markets, "Why can I see odd
lot quotes in SIP feed"): stored as shares with ``lot_size`` 100;
crypto quote sizes are coin amounts (``lot_size`` 1). The tape ``z`` is kept in ``tape``: it
says whose condition table (CTA for A/B, UTP for C) the codes follow, which decides the trade's
candle eligibility flags (:mod:`pipeline.sources.conditions`). Crypto trades carry the taker
side ``tks`` (``B``/``S``), which becomes the only condition: the same aggressor-side convention
as the Binance and Coinbase mappers. Bars (``T=b``) are minute bars starting at ``t``.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.codec import AssetClass, Bar, Quote, Record, Trade
from pipeline.sources.conditions import ALL, alpaca_eligibility
from pipeline.sources.live.instruments import alpaca_venue, equity, split_pair
from pipeline.sources.live.wire import get, integer, number, rfc3339_us, strings, text

SOURCE = "alpaca"
Message = dict[str, object]
ROUND_LOT = 100  # shares per round lot in stock quote sizes


def instrument(symbol: str, asset: AssetClass) -> str:
    """``BTC/USD`` stays a pair; stock tickers as they are."""
    return split_pair(symbol) if asset is AssetClass.CRYPTO else equity(symbol)


def trade(msg: Message, recv_us: int, asset: AssetClass) -> Trade:
    """``T=t`` → :class:`Trade`."""
    conditions = strings(msg.get("tks")) if asset is AssetClass.CRYPTO else strings(msg.get("c"))
    symbol, exchange = text(get(msg, "S")), str(msg.get("x", ""))
    tape = str(msg.get("z", ""))
    rules = ALL if asset is AssetClass.CRYPTO else alpaca_eligibility(conditions, tape)
    return Trade(
        symbol=symbol,
        ts=rfc3339_us(get(msg, "t")),
        price=number(get(msg, "p")),
        size=number(get(msg, "s")),
        asset_class=asset,
        exchange=exchange,
        trade_id=str(integer(get(msg, "i"))),
        conditions=conditions,
        source=SOURCE,
        recv_ts=recv_us,
        instrument=instrument(symbol, asset),
        venue=alpaca_venue(exchange),
        tape=tape,
        updates_open_close=rules.open_close,
        updates_high_low=rules.high_low,
        updates_volume=rules.volume,
    )


def quote(msg: Message, recv_us: int, asset: AssetClass) -> Quote:
    """``T=q`` → :class:`Quote` (stock sizes in shares: round lots x 100)."""
    symbol = text(get(msg, "S"))
    bid_exchange, ask_exchange = str(msg.get("bx", "")), str(msg.get("ax", ""))
    lot = 1 if asset is AssetClass.CRYPTO else ROUND_LOT
    return Quote(
        symbol=symbol,
        ts=rfc3339_us(get(msg, "t")),
        bid_price=number(get(msg, "bp")),
        bid_size=number(get(msg, "bs")) * lot,
        ask_price=number(get(msg, "ap")),
        ask_size=number(get(msg, "as")) * lot,
        asset_class=asset,
        bid_exchange=bid_exchange,
        ask_exchange=ask_exchange,
        conditions=strings(msg.get("c")),
        source=SOURCE,
        recv_ts=recv_us,
        instrument=instrument(symbol, asset),
        bid_venue=alpaca_venue(bid_exchange),
        ask_venue=alpaca_venue(ask_exchange),
        lot_size=lot,
    )


def bar(msg: Message, recv_us: int, asset: AssetClass) -> Bar:
    """``T=b`` (minute bar) → :class:`Bar` with ``interval_s`` 60."""
    symbol = text(get(msg, "S"))
    return Bar(
        symbol=symbol,
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
        instrument=instrument(symbol, asset),
    )


MAPPERS: dict[object, Callable[[Message, int, AssetClass], Record]] = {
    "t": trade,
    "q": quote,
    "b": bar,
}
