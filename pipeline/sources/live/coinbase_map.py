"""Coinbase Exchange public feed messages (``matches``, ``ticker`` channels) → tickwatch records.

Documented shapes::

    {"type":"match","trade_id":10,"sequence":50,"maker_order_id":"ac928c66-...",
     "taker_order_id":"132fb6ae-...","time":"2014-11-07T08:19:27.028459Z",
     "product_id":"BTC-USD","size":"5.23512","price":"400.23","side":"sell"}
    {"type":"ticker","sequence":37475248783,"product_id":"ETH-USD","price":"1285.22",
     "best_bid":"1285.04","best_bid_size":"0.46688654","best_ask":"1285.27",
     "best_ask_size":"1.56637040","side":"buy","time":"2022-10-19T23:28:22.061769Z",
     "trade_id":370843401,"last_size":"11.4396987", ...}

``last_match`` (sent once after subscribing) has the shape of ``match``. Times are ISO 8601
with µs. Prices and sizes are decimal strings (``Decimal`` → nearest float). ``side`` is the
*maker's* side, so the aggressor-side condition is the opposite one: ``side`` ``sell`` → ``B``
(a buyer took the offer), ``buy`` → ``S``. Order ids have no field in the records and are not
kept. Every record has exchange and venue ``COINBASE`` (Coinbase's spot exchange has no MIC),
asset class crypto and the instrument ``BASE/QUOTE`` (``BTC-USD`` → ``BTC/USD``).
"""

from __future__ import annotations

from pipeline.codec import AssetClass, Quote, Trade
from pipeline.sources.live.instruments import split_pair
from pipeline.sources.live.wire import WireError, decimal_text, get, integer, rfc3339_us, text

SOURCE = "coinbase"
VENUE = "COINBASE"
Message = dict[str, object]
_AGGRESSOR = {"sell": "B", "buy": "S"}


def match(msg: Message, recv_us: int) -> Trade:
    """``match`` / ``last_match`` → :class:`Trade` (``trade_id`` = Coinbase's trade id)."""
    side = get(msg, "side")
    if side not in _AGGRESSOR:
        raise WireError(f"side is not buy/sell: {side!r}")
    return Trade(
        symbol=text(get(msg, "product_id")),
        ts=rfc3339_us(get(msg, "time")),
        price=decimal_text(get(msg, "price")),
        size=decimal_text(get(msg, "size")),
        asset_class=AssetClass.CRYPTO,
        exchange=VENUE,
        trade_id=str(integer(get(msg, "trade_id"))),
        conditions=(_AGGRESSOR[str(side)],),
        source=SOURCE,
        recv_ts=recv_us,
        instrument=split_pair(text(get(msg, "product_id"))),
        venue=VENUE,
    )


def ticker(msg: Message, recv_us: int) -> Quote:
    """``ticker`` → :class:`Quote` of the best bid and ask after the last match."""
    return Quote(
        symbol=text(get(msg, "product_id")),
        ts=rfc3339_us(get(msg, "time")),
        bid_price=decimal_text(get(msg, "best_bid")),
        bid_size=decimal_text(get(msg, "best_bid_size")),
        ask_price=decimal_text(get(msg, "best_ask")),
        ask_size=decimal_text(get(msg, "best_ask_size")),
        asset_class=AssetClass.CRYPTO,
        bid_exchange=VENUE,
        ask_exchange=VENUE,
        source=SOURCE,
        recv_ts=recv_us,
        instrument=split_pair(text(get(msg, "product_id"))),
        bid_venue=VENUE,
        ask_venue=VENUE,
    )
