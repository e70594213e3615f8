"""Trade corrections and cancels as vendors announce them (Alpaca's ``T=c`` and ``T=x``).

Alpaca's stock stream sends them to every client subscribed to a symbol's trades, unasked.
Shapes (Alpaca's stock stream; the forum answer that documents ``c`` and ``x``)::

    {"T":"c","S":"IWM","x":"D","oi":79372207866957,"op":208.65,"os":14950,
     "oc":[" ","7","V"],"ci":79372223926359,"cp":208.65,"cs":14950,"cc":[" ","7","Z","V"],
     "z":"B","t":"2022-01-20T17:26:08.000760661Z"}
    {"T":"x","S":"AAPL","i":52983525028174,"x":"D","p":125.5,"s":100,"a":"C","z":"C",
     "t":"2021-02-22T15:51:44.208Z"}

``oi``/``op``/``os``/``oc`` are the original trade's id, price, size and conditions, ``ci``..``cc``
the corrected ones; ``a`` is the cancel's action, ``C`` (cancel) or ``E`` (error); ``t`` is the
named trade's time. Both become :class:`~pipeline.codec.TradeCorrection` records (action
``correct`` / ``cancel`` / ``error``), produced to their own topic and stored in
``market.trade_corrections``; the candle views apply them (``clickhouse/0015_*.sql``). The
reprinted trade's eligibility comes from its conditions under the tape ``z``.
"""

from __future__ import annotations

from pipeline.codec import AssetClass, TradeCorrection
from pipeline.sources.conditions import alpaca_eligibility
from pipeline.sources.live.instruments import alpaca_venue, equity
from pipeline.sources.live.wire import (
    WireError,
    get,
    integer,
    number,
    rfc3339_us,
    strings,
    text,
)

CANCEL_ACTIONS = {"C": "cancel", "E": "error"}
Message = dict[str, object]


def alpaca_correction(msg: Message, source: str, recv_us: int = 0) -> TradeCorrection:
    """``T=c`` → a ``correct`` :class:`TradeCorrection`; raises ``WireError`` naming a bad field."""
    symbol, exchange, tape = text(get(msg, "S")), str(msg.get("x", "")), str(msg.get("z", ""))
    corrected = strings(msg.get("cc"))
    rules = alpaca_eligibility(corrected, tape)
    return TradeCorrection(
        symbol=symbol,
        ts=rfc3339_us(get(msg, "t")),
        action="correct",
        trade_id=str(integer(get(msg, "oi"))),
        price=number(get(msg, "op")),
        size=number(get(msg, "os")),
        asset_class=AssetClass.EQUITY,
        exchange=exchange,
        conditions=strings(msg.get("oc")),
        corrected_id=str(integer(get(msg, "ci"))),
        corrected_price=number(get(msg, "cp")),
        corrected_size=number(get(msg, "cs")),
        corrected_conditions=corrected,
        corrected_updates_open_close=rules.open_close,
        corrected_updates_high_low=rules.high_low,
        corrected_updates_volume=rules.volume,
        tape=tape,
        source=source,
        recv_ts=recv_us,
        instrument=equity(symbol),
        venue=alpaca_venue(exchange),
    )


def alpaca_cancel(msg: Message, source: str, recv_us: int = 0) -> TradeCorrection:
    """``T=x`` → a ``cancel``/``error`` :class:`TradeCorrection`; raises ``WireError`` naming a
    bad field (an action other than ``C``/``E`` included)."""
    symbol, exchange = text(get(msg, "S")), str(msg.get("x", ""))
    action = text(get(msg, "a"))
    if action not in CANCEL_ACTIONS:
        raise WireError(f"field 'a' = {action!r} is not C or E")
    return TradeCorrection(
        symbol=symbol,
        ts=rfc3339_us(get(msg, "t")),
        action=CANCEL_ACTIONS[action],
        trade_id=str(integer(get(msg, "i"))),
        price=number(get(msg, "p")),
        size=number(get(msg, "s")),
        asset_class=AssetClass.EQUITY,
        exchange=exchange,
        tape=str(msg.get("z", "")),
        source=source,
        recv_ts=recv_us,
        instrument=equity(symbol),
        venue=alpaca_venue(exchange),
    )
