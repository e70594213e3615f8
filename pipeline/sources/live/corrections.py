"""Trade corrections and cancels as vendors announce them (Alpaca's ``T=c`` and ``T=x``).

Alpaca's stock stream sends them to every client subscribed to a symbol's trades, unasked.
Shapes (Alpaca's stock stream; the forum answer that documents ``c`` and ``x``)::

    {"T":"c","S":"IWM","x":"D","oi":79372207866957,"op":208.65,"os":14950,
     "oc":[" ","7","V"],"ci":79372223926359,"cp":208.65,"cs":14950,"cc":[" ","7","Z","V"],
     "z":"B","t":"2022-01-20T17:26:08.000760661Z"}
    {"T":"x","S":"AAPL","i":52983525028174,"x":"D","p":125.5,"s":100,"a":"C","z":"C",
     "t":"2021-02-22T15:51:44.208Z"}

``oi``/``op``/``os``/``oc`` are the original trade's id, price, size and conditions, ``ci``..``cc``
the corrected ones; ``a`` is the cancel's action, ``C`` (cancel) or ``E`` (error).

They are parsed into the typed values below (a malformed one is counted ``malformed``) and then
counted as dropped with the reasons :data:`CORRECTION_NOT_STORED` / :data:`CANCEL_NOT_STORED`
and logged with the ids they name: storing them and repairing the affected candles is issue 13
§4, not built yet. Until then a corrected or cancelled trade stays in ``market.trades`` as it
was first printed, and the drop counters say how often that happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.sources.live.wire import get, integer, number, rfc3339_us, strings, text

CORRECTION_NOT_STORED = "trade_correction_not_stored"
CANCEL_NOT_STORED = "trade_cancel_not_stored"
Message = dict[str, object]


@dataclass(frozen=True, slots=True)
class TradeCorrection:
    """Trade ``original_id`` on ``exchange`` was reprinted as ``corrected_id`` (price, size)."""

    source: str
    symbol: str
    exchange: str
    ts: int
    original_id: str
    original_price: float
    original_size: float
    original_conditions: tuple[str, ...]
    corrected_id: str
    corrected_price: float
    corrected_size: float
    corrected_conditions: tuple[str, ...]
    tape: str


@dataclass(frozen=True, slots=True)
class TradeCancel:
    """Trade ``trade_id`` on ``exchange`` was cancelled (``action`` C) or was an error (E)."""

    source: str
    symbol: str
    exchange: str
    ts: int
    trade_id: str
    price: float
    size: float
    action: str
    tape: str


def alpaca_correction(msg: Message, source: str) -> TradeCorrection:
    """``T=c`` → :class:`TradeCorrection`; raises ``WireError`` naming a bad field."""
    return TradeCorrection(
        source=source,
        symbol=text(get(msg, "S")),
        exchange=str(msg.get("x", "")),
        ts=rfc3339_us(get(msg, "t")),
        original_id=str(integer(get(msg, "oi"))),
        original_price=number(get(msg, "op")),
        original_size=number(get(msg, "os")),
        original_conditions=strings(msg.get("oc")),
        corrected_id=str(integer(get(msg, "ci"))),
        corrected_price=number(get(msg, "cp")),
        corrected_size=number(get(msg, "cs")),
        corrected_conditions=strings(msg.get("cc")),
        tape=str(msg.get("z", "")),
    )


def alpaca_cancel(msg: Message, source: str) -> TradeCancel:
    """``T=x`` → :class:`TradeCancel`; raises ``WireError`` naming a bad field."""
    return TradeCancel(
        source=source,
        symbol=text(get(msg, "S")),
        exchange=str(msg.get("x", "")),
        ts=rfc3339_us(get(msg, "t")),
        trade_id=str(integer(get(msg, "i"))),
        price=number(get(msg, "p")),
        size=number(get(msg, "s")),
        action=text(get(msg, "a")),
        tape=str(msg.get("z", "")),
    )
