"""Finnhub WebSocket ``trade`` messages → tickwatch trades.

Documented shape (Finnhub's "Trades - Last Price Updates" WebSocket reference)::

    {"type":"trade","data":[{"s":"AAPL","p":129.58,"t":1672348887666,"v":1,
                             "c":["1","24","12"]},
                            {"s":"BINANCE:BTCUSDT","p":7296.89,"t":1575526691134,"v":0.011467}]}

``s`` symbol, ``p`` price, ``t`` epoch milliseconds (→ µs), ``v`` volume, ``c`` trade
conditions (codes of Finnhub's stock trade-condition list; absent or ``null`` for crypto and FX).
Finnhub sends no trade id, no exchange for US stocks and no aggressor side.

Symbols: US stocks as the ticker; crypto and FX as ``EXCHANGE:SYMBOL`` (``BINANCE:BTCUSDT``,
``OANDA:EUR_USD``). The prefix is the venue (``BINANCE``); the asset class is FX for the FX
brokers below, crypto for any other prefix, equity without one.

"For exchanges that do not stream trades, a price update is sent with volume = 0" (Finnhub):
such an item is not a trade; the session drops it as ``price_update_not_trade``.
"""

from __future__ import annotations

from pipeline.codec import AssetClass, Trade
from pipeline.sources.live.instruments import finnhub_instrument
from pipeline.sources.live.wire import get, millis_us, number, strings, text

SOURCE = "finnhub"
Message = dict[str, object]
# Finnhub's forex exchanges (GET /forex/exchange lists these brokers).
FX_EXCHANGES = frozenset({"OANDA", "FXCM", "FOREX.COM", "FXPRO", "IC MARKETS", "PEPPERSTONE",
                          "OCTAFX", "FHFX"})  # fmt: skip


def asset_of(symbol: str) -> AssetClass:
    """Equity without an exchange prefix; FX for the FX brokers; crypto otherwise."""
    exchange, found, _ = symbol.partition(":")
    if not found:
        return AssetClass.EQUITY
    return AssetClass.FX if exchange.upper() in FX_EXCHANGES else AssetClass.CRYPTO


def is_price_update(item: Message) -> bool:
    """True for a last-price update (``v`` = 0) rather than a trade."""
    return item.get("v") == 0


def trade(item: Message, recv_us: int) -> Trade:
    """One item of a ``trade`` message's ``data`` → :class:`Trade`."""
    symbol = text(get(item, "s"))
    instrument, venue = finnhub_instrument(symbol)
    return Trade(
        symbol=symbol,
        ts=millis_us(get(item, "t")),
        price=number(get(item, "p")),
        size=number(get(item, "v")),
        asset_class=asset_of(symbol),
        exchange=venue,
        conditions=strings(item.get("c")),
        source=SOURCE,
        recv_ts=recv_us,
        instrument=instrument,
        venue=venue,
    )
