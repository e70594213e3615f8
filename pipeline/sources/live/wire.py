"""Parsing vendor field values exactly: timestamps to integer microseconds, decimal strings.

Times: RFC 3339 / ISO 8601 strings keep up to nanoseconds (Alpaca) or microseconds (Coinbase);
digits beyond the sixth are truncated, never rounded, so a record's ``ts`` never moves past the
event. Epoch milliseconds (Polygon, Binance) are multiplied exactly.

Decimal strings (Binance, Coinbase send prices and sizes as strings) go through ``Decimal`` and
then ``float``: the float is the nearest double to the exact decimal, which is what the records
and ClickHouse's Float64 columns hold.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class WireError(ValueError):
    """A field does not hold what the vendor's documentation says it holds."""


def rfc3339_us(text: object) -> int:
    """``2021-02-22T15:51:44.208123456Z`` as integer microseconds since the epoch (UTC)."""
    match = _RFC3339.match(text) if isinstance(text, str) else None
    if match is None:
        raise WireError(f"not an RFC 3339 time: {text!r}")
    day, clock, fraction, offset = match.groups()
    zone = "+00:00" if offset in ("Z", "z") else offset
    try:
        whole = datetime.fromisoformat(f"{day}T{clock}{zone}")
    except ValueError:
        raise WireError(f"not an RFC 3339 time: {text!r}") from None
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    return (whole - _EPOCH) // _ONE_US + micros


def millis_us(value: object) -> int:
    """Epoch milliseconds (an integer) as microseconds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"not epoch milliseconds: {value!r}")
    return value * 1000


def number(value: object) -> float:
    """A JSON number (not a bool, finite) as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WireError(f"not a number: {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise WireError(f"not a finite number: {value!r}")
    return result


def decimal_text(value: object) -> float:
    """A decimal string such as ``"0.00100000"`` as a float; rejects NaN and infinities."""
    return float(decimal_exact(value))


def decimal_exact(value: object) -> Decimal:
    """A decimal string as an exact, finite :class:`~decimal.Decimal`."""
    if not isinstance(value, str):
        raise WireError(f"not a decimal string: {value!r}")
    try:
        exact = Decimal(value)
    except InvalidOperation:
        raise WireError(f"not a decimal string: {value!r}") from None
    if not exact.is_finite():
        raise WireError(f"not a finite decimal: {value!r}")
    return exact


def text(value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise WireError(f"not a non-empty string: {value!r}")
    return value


def integer(value: object) -> int:
    """A JSON integer (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"not an integer: {value!r}")
    return value


def get(message: dict[str, object], key: str) -> object:
    """``message[key]``; raises :class:`WireError` naming the field if it is missing."""
    try:
        return message[key]
    except KeyError:
        raise WireError(f"missing field {key!r}") from None


def strings(value: object) -> tuple[str, ...]:
    """A JSON array of strings or integers (condition codes) as a tuple of strings."""
    if value is None:
        return ()
    if isinstance(value, int | str) and not isinstance(value, bool):
        return (str(value),)
    if not isinstance(value, list) or not all(isinstance(v, int | str) for v in value):
        raise WireError(f"not a list of codes: {value!r}")
    return tuple(str(v) for v in value)
