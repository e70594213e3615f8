"""Decode and validate one wire message (see :mod:`pipeline.records`) into a table row.

:func:`validate` returns the values of the row in the column order of the record type's table,
from ``symbol`` up to ``received_at`` (the loader appends the Kafka columns; see
:mod:`pipeline.load.fields`). Anything wrong raises :class:`~pipeline.errors.InvalidMessage` whose
``reason`` is one of :data:`REASONS` and whose ``detail`` names the field and the offending value.
Nothing here reads the clock: the caller passes ``now_us``.

Besides the types, a row must fit its table (see ``clickhouse/0002_market_ticks.sql``) and make
sense: ``ts`` and a non-zero ``recv_ts`` within ``max_past_s`` / ``max_future_s`` of now (so
``DateTime64(6)`` holds them), ``interval_s`` in ``1..2**32-1`` (``UInt32``), no control
character (U+0000-U+001F, U+007F-U+009F) in any string, sizes not negative (``-0.0`` included),
prices and sizes within the asset class's sanity bounds (``load.<class>_max_price`` /
``load.<class>_max_size``; a bar's volume within a million max-size trades). With those bounds no
accepted trade can make a candle's volume, notional or vwap non-finite.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.errors import InvalidMessage
from pipeline.load.fields import FIELDS, SYMBOL_MAX_LEN, Spec, checked_row
from pipeline.load.typed import typed_row
from pipeline.records import AssetClass, RecordType
from tickwatch.settings import LoadSettings

__all__ = ["FIELDS", "REASONS", "ValidationRules", "decode", "validate"]

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

    @classmethod
    def from_settings(cls, load: LoadSettings) -> ValidationRules:
        return cls(
            max_past_us=int(load.max_past_s * 1e6),
            max_future_us=int(load.max_future_s * 1e6),
            symbol_pattern=re.compile(load.symbol_pattern),
            bounds=sanity_bounds(load),
        )


def sanity_bounds(load: LoadSettings) -> Bounds:
    """(max price, max size) per asset class, from ``load.<class>_max_price`` / ``_max_size``."""
    return {
        a.value: (getattr(load, f"{a.value}_max_price"), getattr(load, f"{a.value}_max_size"))
        for a in AssetClass
    }


def decode(payload: bytes | None) -> dict[str, Any]:
    """Parse a message value into a JSON object; raise InvalidMessage if it is not one."""
    try:
        body = orjson.loads(payload or b"")
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage("malformed_json", str(exc)) from None
    if not isinstance(body, dict):
        raise InvalidMessage("not_an_object", f"top-level JSON is {type(body).__name__}")
    return body


def validate(
    body: dict[str, Any], expected: RecordType, rules: ValidationRules, now_us: int
) -> list[Any]:
    """The row values for ``body`` (a ``expected`` record); raise InvalidMessage if invalid.

    Well-typed messages take a fast path; anything it does not accept is examined field by field
    (the slow path), which either accepts it (e.g. an integer price) or says what is wrong.
    """
    row = typed_row(body, expected) or checked_row(body, expected)
    _check_symbol(row[0], rules)
    _check_time("ts", row[2], rules, now_us)
    if row[-1]:
        _check_time("recv_ts", row[-1], rules, now_us)
    _check_text(row, expected)
    _CHECKS[expected](row)
    _check_bounds(row, expected, rules.bounds[row[1]])
    return row


def _check_symbol(symbol: str, rules: ValidationRules) -> None:
    if not 0 < len(symbol) <= SYMBOL_MAX_LEN:
        detail = f"symbol length {len(symbol)} not in 1..{SYMBOL_MAX_LEN}"
        raise InvalidMessage("bad_symbol", detail)
    if not rules.symbol_pattern.fullmatch(symbol):
        raise InvalidMessage("bad_symbol", f"symbol {symbol!r} does not match the pattern")


def _check_time(name: str, ts: int, rules: ValidationRules, now_us: int) -> None:
    if ts < now_us - rules.max_past_us:
        raise InvalidMessage("too_old", f"{name}={ts} is {(now_us - ts) / 1e6:.0f} s in the past")
    if ts > now_us + rules.max_future_us:
        detail = f"{name}={ts} is {(ts - now_us) / 1e6:.0f} s in the future"
        raise InvalidMessage("in_future", detail)


def _indexes(spec: Spec, *kinds: str) -> tuple[int, ...]:
    return tuple(i for i, (_, kind, _) in enumerate(spec) if kind in kinds)


_TEXTS = {kind: _indexes(spec, "text") for kind, spec in FIELDS.items()}
_LISTS = {kind: _indexes(spec, "texts") for kind, spec in FIELDS.items()}


def _check_text(row: list[Any], kind: RecordType) -> None:
    """No control character in any string field (one regex over all of them, then find it)."""
    texts = [row[i] for i in _TEXTS[kind]]
    for i in _LISTS[kind]:
        texts += row[i]
    if not _CONTROL.search("".join(texts)):
        return
    for i in (*_TEXTS[kind], *_LISTS[kind]):
        for text in row[i] if i in _LISTS[kind] else [row[i]]:
            if found := _CONTROL.search(text):
                name = FIELDS[kind][i][0]
                detail = f"field {name!r} has U+{ord(found.group()):04X} at {found.start()}"
                raise InvalidMessage("control_character", detail)


def _check_bounds(row: list[Any], kind: RecordType, bounds: tuple[float, float]) -> None:
    max_price, max_size = bounds
    prices, sizes = _PRICES[kind], _SIZES[kind]
    for i in prices:
        if row[i] > max_price:
            name = FIELDS[kind][i][0]
            detail = f"{name}={row[i]!r} above {max_price:g} for {row[1]}"
            raise InvalidMessage("implausible_price", detail)
    for i in sizes:
        limit = max_size * BAR_VOLUME_TRADES if kind is RecordType.BAR else max_size
        if row[i] > limit:
            name = FIELDS[kind][i][0]
            raise InvalidMessage("implausible_size", f"{name}={row[i]!r} above {limit:g}")


def _positive(row: list[Any], *indexes: int) -> None:
    for i in indexes:
        if row[i] <= 0:
            raise InvalidMessage("bad_price", f"price {row[i]!r} (column {i}) must be > 0")


def _non_negative(row: list[Any], *indexes: int) -> None:
    for i in indexes:
        if row[i] < 0 or (row[i] == 0 and math.copysign(1.0, row[i]) < 0):
            raise InvalidMessage("negative_size", f"size {row[i]!r} (column {i}) must be >= 0")


def _check_trade(row: list[Any]) -> None:
    _positive(row, 3)
    _non_negative(row, 4)


def _check_quote(row: list[Any]) -> None:
    _positive(row, 3, 5)
    _non_negative(row, 4, 6)
    if row[3] > row[5]:
        raise InvalidMessage("crossed_quote", f"bid_price {row[3]} > ask_price {row[5]}")


def _check_bar(row: list[Any]) -> None:
    open_, high, low, close = row[4:8]
    if row[3] > UINT32_MAX:
        raise InvalidMessage("out_of_range", f"interval_s={row[3]} does not fit UInt32")
    _positive(row, 4, 5, 6, 7)
    _non_negative(row, 8, 9)
    if row[3] == 0 or not low <= min(open_, close) <= max(open_, close) <= high:
        raise InvalidMessage(
            "bad_ohlc",
            f"interval_s={row[3]} o={open_} h={high} l={low} "
            f"c={close}: need interval_s > 0 and low <= open,close <= high",
        )


_CHECKS = {
    RecordType.TRADE: _check_trade,
    RecordType.QUOTE: _check_quote,
    RecordType.BAR: _check_bar,
}

# Prices and sizes checked against the sanity bounds (bars: vwap 0 = not given, else a price).
_PRICES = {RecordType.TRADE: (3,), RecordType.QUOTE: (3, 5), RecordType.BAR: (4, 5, 6, 7, 9)}
_SIZES = {RecordType.TRADE: (4,), RecordType.QUOTE: (4, 6), RecordType.BAR: (8,)}
