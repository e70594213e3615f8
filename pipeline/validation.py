"""Decode and validate one wire message (see :mod:`pipeline.records`) into a table row.

:func:`validate` returns the values of the row in the column order of the record type's table,
from ``symbol`` up to ``received_at`` (the loader appends the Kafka columns; see
:mod:`pipeline.load.fields`). Anything wrong raises :class:`~pipeline.errors.InvalidMessage` whose
``reason`` is one of :data:`REASONS` and whose ``detail`` names the field and the offending value.
Nothing here reads the clock: the caller passes ``now_us``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.errors import InvalidMessage
from pipeline.load.fields import FIELDS, SYMBOL_MAX_LEN, checked_row
from pipeline.load.typed import typed_row
from pipeline.records import RecordType
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
)


@dataclass(frozen=True, slots=True)
class ValidationRules:
    """Bounds a message must satisfy besides its types; times in microseconds."""

    max_past_us: int
    max_future_us: int
    symbol_pattern: re.Pattern[str]

    @classmethod
    def from_settings(cls, load: LoadSettings) -> ValidationRules:
        return cls(
            max_past_us=int(load.max_past_s * 1e6),
            max_future_us=int(load.max_future_s * 1e6),
            symbol_pattern=re.compile(load.symbol_pattern),
        )


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
    _check_time(row[2], rules, now_us)
    _CHECKS[expected](row)
    return row


def _check_symbol(symbol: str, rules: ValidationRules) -> None:
    if not 0 < len(symbol) <= SYMBOL_MAX_LEN:
        detail = f"symbol length {len(symbol)} not in 1..{SYMBOL_MAX_LEN}"
        raise InvalidMessage("bad_symbol", detail)
    if not rules.symbol_pattern.fullmatch(symbol):
        raise InvalidMessage("bad_symbol", f"symbol {symbol!r} does not match the pattern")


def _check_time(ts: int, rules: ValidationRules, now_us: int) -> None:
    if ts < now_us - rules.max_past_us:
        raise InvalidMessage("too_old", f"ts={ts} is {(now_us - ts) / 1e6:.0f} s in the past")
    if ts > now_us + rules.max_future_us:
        raise InvalidMessage("in_future", f"ts={ts} is {(ts - now_us) / 1e6:.0f} s in the future")


def _positive(row: list[Any], *indexes: int) -> None:
    for i in indexes:
        if row[i] <= 0:
            raise InvalidMessage("bad_price", f"price {row[i]!r} (column {i}) must be > 0")


def _non_negative(row: list[Any], *indexes: int) -> None:
    for i in indexes:
        if row[i] < 0:
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
