"""Decode and validate one wire message (see :mod:`pipeline.codec`) into a table row.

:func:`validate` returns the values of the row in the column order of the record type's table,
from ``symbol`` up to ``received_at`` (the loader appends the Kafka columns; see
:mod:`pipeline.load.tables`). Anything wrong raises :class:`~pipeline.errors.InvalidMessage` whose
``reason`` is one of :data:`REASONS` and whose ``detail`` names the field and the offending value.
Nothing here reads the clock: the caller passes ``now_us``.

Besides the types, a row must fit its table (see ``clickhouse/0002_market_ticks.sql``) and make
sense: ``ts`` and a non-zero ``recv_ts`` within ``max_past_s`` / ``max_future_s`` of now (so
``DateTime64(6)`` holds them; a bar's ``ts`` within ``bar_max_past_s``, as backfilled history is
old), ``interval_s`` in ``1..2**32-1`` (``UInt32``), no control
character (U+0000-U+001F, U+007F-U+009F) in any string, sizes not negative (``-0.0`` included),
prices and sizes within the asset class's sanity bounds (``load.<class>_max_price`` /
``load.<class>_max_size``; a bar's volume within a million max-size trades). With those bounds no
accepted trade can make a candle's volume, notional or vwap non-finite.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from pipeline.codec.decode import checked_row
from pipeline.codec.fast import typed_row
from pipeline.codec.records import CORRECTION_ACTIONS, AssetClass, RecordType
from pipeline.codec.spec import FIELDS, SYMBOL_MAX_LEN, index, indexes
from pipeline.errors import InvalidMessage
from tickwatch.settings import LoadSettings

__all__ = ["REASONS", "ValidationRules", "validate"]

REASONS = (
    "malformed_json",
    "not_an_object",
    "schema_version",
    "wrong_record_type",
    "missing_field",
    "bad_field_type",
    "non_finite",
    "bad_price",
    "negative_size",
    "crossed_quote",
    "bad_ohlc",
    "bad_symbol",
    "too_old",
    "in_future",
    "out_of_range",
    "bad_flag",
    "bad_action",
    "control_character",
    "implausible_price",
    "implausible_size",
)
UINT32_MAX = 2**32 - 1
BAR_VOLUME_TRADES = 1e6  # a bar's volume may reach this many max-size trades
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
Bounds = dict[str, tuple[float, float]]  # asset class -> (max price, max size)


@dataclass(frozen=True, slots=True)
class ValidationRules:
    """Bounds a message must satisfy besides its types; times in microseconds."""

    max_past_us: int
    max_future_us: int
    symbol_pattern: re.Pattern[str]
    bounds: Bounds = field(default_factory=lambda: sanity_bounds(LoadSettings()))
    bar_max_past_us: int = int(LoadSettings().bar_max_past_s * 1e6)

    @classmethod
    def from_settings(cls, load: LoadSettings) -> ValidationRules:
        return cls(
            max_past_us=int(load.max_past_s * 1e6),
            max_future_us=int(load.max_future_s * 1e6),
            symbol_pattern=re.compile(load.symbol_pattern),
            bounds=sanity_bounds(load),
            bar_max_past_us=int(load.bar_max_past_s * 1e6),
        )


def sanity_bounds(load: LoadSettings) -> Bounds:
    """(max price, max size) per asset class, from ``load.<class>_max_price`` / ``_max_size``."""
    return {
        a.value: (getattr(load, f"{a.value}_max_price"), getattr(load, f"{a.value}_max_size"))
        for a in AssetClass
    }


def validate(
    body: dict[str, Any], expected: RecordType, rules: ValidationRules, now_us: int
) -> list[Any]:
    """The row values for ``body`` (a ``expected`` record); raise InvalidMessage if invalid.

    Well-typed messages take a fast path; anything it does not accept is examined field by field
    (the slow path), which either accepts it (e.g. an integer price) or says what is wrong.
    """
    row = typed_row(body, expected) or checked_row(body, expected)
    _check_symbol(row[_SYMBOL], rules)
    past = rules.bar_max_past_us if expected is RecordType.BAR else rules.max_past_us
    _check_time("ts", row[_TS], past, rules, now_us)
    if row[-1]:  # recv_ts, always last (pipeline.codec.spec)
        _check_time("recv_ts", row[-1], rules.max_past_us, rules, now_us)
    _check_text(row, expected)
    _CHECKS[expected](row)
    _check_bounds(row, expected, rules.bounds[row[_ASSET]])
    return row


def _check_symbol(symbol: str, rules: ValidationRules) -> None:
    if not 0 < len(symbol) <= SYMBOL_MAX_LEN:
        detail = f"symbol length {len(symbol)} not in 1..{SYMBOL_MAX_LEN}"
        raise InvalidMessage("bad_symbol", detail)
    if not rules.symbol_pattern.fullmatch(symbol):
        raise InvalidMessage("bad_symbol", f"symbol {symbol!r} does not match the pattern")


def _check_time(name: str, ts: int, max_past_us: int, rules: ValidationRules, now_us: int) -> None:
    if ts < now_us - max_past_us:
        raise InvalidMessage("too_old", f"{name}={ts} is {(now_us - ts) / 1e6:.0f} s in the past")
    if ts > now_us + rules.max_future_us:
        detail = f"{name}={ts} is {(ts - now_us) / 1e6:.0f} s in the future"
        raise InvalidMessage("in_future", detail)


_TEXTS = {kind: indexes(kind, "text") for kind in FIELDS}
_LISTS = {kind: indexes(kind, "texts") for kind in FIELDS}


def _check_text(row: list[Any], kind: RecordType) -> None:
    """No control character in any string field. ``str.isprintable`` (one C loop over all of
    them) clears nearly every row; only a row it does not clear is searched for the culprit."""
    joined = "".join(_TEXT_GET[kind](row))
    for i in _LISTS[kind]:
        if row[i]:
            joined += "".join(row[i])
    if joined.isprintable() or not _CONTROL.search(joined):
        return
    for i in (*_TEXTS[kind], *_LISTS[kind]):
        for text in row[i] if i in _LISTS[kind] else [row[i]]:
            if found := _CONTROL.search(text):
                name = FIELDS[kind][i][0]
                detail = f"field {name!r} has U+{ord(found.group()):04X} at {found.start()}"
                raise InvalidMessage("control_character", detail)


def _check_bounds(row: list[Any], kind: RecordType, bounds: tuple[float, float]) -> None:
    max_price, max_size = bounds
    if max(_PRICE_GET[kind](row)) > max_price:
        for i in _PRICES[kind]:
            if row[i] > max_price:
                name = FIELDS[kind][i][0]
                detail = f"{name}={row[i]!r} above {max_price:g} for {row[_ASSET]}"
                raise InvalidMessage("implausible_price", detail)
    limit = max_size * BAR_VOLUME_TRADES if kind is RecordType.BAR else max_size
    for i in _SIZES[kind]:
        if row[i] > limit:
            name = FIELDS[kind][i][0]
            raise InvalidMessage("implausible_size", f"{name}={row[i]!r} above {limit:g}")


def _getter(positions: tuple[int, ...]) -> Callable[[list[Any]], tuple[Any, ...]]:
    """Like ``itemgetter(*positions)``, but always returning a tuple."""
    if len(positions) == 1:
        only = positions[0]
        return lambda row: (row[only],)
    return itemgetter(*positions)


def _positive(row: list[Any], kind: RecordType, positions: tuple[int, ...]) -> None:
    for i in positions:
        if row[i] <= 0:
            name = FIELDS[kind][i][0]
            raise InvalidMessage("bad_price", f"{name}={row[i]!r} (column {i}) must be > 0")


def _non_negative(row: list[Any], kind: RecordType, positions: tuple[int, ...]) -> None:
    for i in positions:
        if row[i] < 0 or (row[i] == 0 and math.copysign(1.0, row[i]) < 0):
            name = FIELDS[kind][i][0]
            raise InvalidMessage("negative_size", f"{name}={row[i]!r} (column {i}) must be >= 0")


def _at(kind: RecordType, *names: str) -> tuple[int, ...]:
    return tuple(index(kind, name) for name in names)


_T, _Q, _B, _C = RecordType.TRADE, RecordType.QUOTE, RecordType.BAR, RecordType.CORRECTION
# Row positions, by field name (FIELDS is derived from the record dataclasses).
_SYMBOL, _ASSET, _TS = _at(_T, "symbol", "asset_class", "ts")
_TRADE_PRICES, _TRADE_SIZES = _at(_T, "price"), _at(_T, "size")
_BID, _ASK = _at(_Q, "bid_price", "ask_price")
_QUOTE_SIZES = _at(_Q, "bid_size", "ask_size")
_INTERVAL = index(_B, "interval_s")
_OHLC = _at(_B, "open", "high", "low", "close")
_BAR_SIZES = _at(_B, "volume", "vwap")
_FLAGS = {k: tuple(i for i, (n, _, _) in enumerate(FIELDS[k]) if "updates_" in n) for k in (_T, _C)}
_ACTION = index(_C, "action")
_FIX_PRICE, _FIX_SIZES = index(_C, "corrected_price"), _at(_C, "size", "corrected_size")
# Checked against the sanity bounds (a bar's vwap 0 = not given, else a price).
_PRICES = {
    _T: _TRADE_PRICES,
    _Q: (_BID, _ASK),
    _B: (*_OHLC, index(_B, "vwap")),
    _C: (index(_C, "price"), _FIX_PRICE),
}
_SIZES = {_T: _TRADE_SIZES, _Q: _QUOTE_SIZES, _B: _at(_B, "volume"), _C: _FIX_SIZES}


def _flags(row: list[Any], kind: RecordType) -> None:
    """Eligibility flags (``updates_*``) are 0 or 1: they are multiplied into candle sums."""
    for i in _FLAGS[kind]:
        if row[i] not in (0, 1):
            name = FIELDS[kind][i][0]
            raise InvalidMessage("bad_flag", f"{name}={row[i]!r} must be 0 or 1")


def _check_trade(row: list[Any]) -> None:
    _positive(row, _T, _TRADE_PRICES)
    _non_negative(row, _T, _TRADE_SIZES)
    _flags(row, _T)


def _check_correction(row: list[Any]) -> None:
    """A correction names its action and, when it reprints the trade, a positive price."""
    action = row[_ACTION]
    if action not in CORRECTION_ACTIONS:
        raise InvalidMessage("bad_action", f"action={action!r} not one of {CORRECTION_ACTIONS}")
    _positive(row, _C, (index(_C, "price"), _FIX_PRICE) if action == "correct" else _PRICES[_C][:1])
    _non_negative(row, _C, _FIX_SIZES)
    _flags(row, _C)


def _check_quote(row: list[Any]) -> None:
    _positive(row, _Q, (_BID, _ASK))
    _non_negative(row, _Q, _QUOTE_SIZES)
    if row[_BID] > row[_ASK]:
        raise InvalidMessage("crossed_quote", f"bid_price {row[_BID]} > ask_price {row[_ASK]}")


def _check_bar(row: list[Any]) -> None:
    interval = row[_INTERVAL]
    open_, high, low, close = (row[i] for i in _OHLC)
    if interval > UINT32_MAX:
        raise InvalidMessage("out_of_range", f"interval_s={interval} does not fit UInt32")
    _positive(row, _B, _OHLC)
    _non_negative(row, _B, _BAR_SIZES)
    if interval == 0 or not low <= min(open_, close) <= max(open_, close) <= high:
        raise InvalidMessage(
            "bad_ohlc",
            f"interval_s={interval} o={open_} h={high} l={low} "
            f"c={close}: need interval_s > 0 and low <= open,close <= high",
        )


_CHECKS = {_T: _check_trade, _Q: _check_quote, _B: _check_bar, _C: _check_correction}
_TEXT_GET = {kind: _getter(_TEXTS[kind]) for kind in FIELDS}
_PRICE_GET = {kind: _getter(_PRICES[kind]) for kind in FIELDS}
