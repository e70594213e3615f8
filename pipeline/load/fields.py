"""The fields of each record type on the wire, and how a JSON object becomes a row.

:data:`FIELDS` lists, per record type, the wire fields in the column order of its ClickHouse table
(``ts`` fills ``event_time``, ``recv_ts`` fills ``received_at``), each with its kind and default.
:func:`checked_row` examines an object field by field and raises
:class:`~pipeline.errors.InvalidMessage` saying which field is wrong. Bounds and cross-field rules
are :mod:`pipeline.validation`'s; the fast path for well-typed objects is
:mod:`pipeline.load.typed`.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.errors import InvalidMessage
from pipeline.records import SCHEMA_VERSION, AssetClass, RecordType

SYMBOL_MAX_LEN = 32
TEXT_MAX_LEN = 256
REQUIRED = object()
ASSET_CLASSES = frozenset(a.value for a in AssetClass)

# (wire field, kind, default) in table column order; ts fills event_time, recv_ts received_at.
Spec = tuple[tuple[str, str, Any], ...]
_HEAD: Spec = (
    ("symbol", "symbol", REQUIRED),
    ("asset_class", "asset", "equity"),
    ("ts", "time", REQUIRED),
)
_TAIL: Spec = (("source", "text", ""), ("recv_ts", "uint", 0))
FIELDS: dict[RecordType, Spec] = {
    RecordType.TRADE: (
        *_HEAD,
        ("price", "num", REQUIRED),
        ("size", "num", REQUIRED),
        ("exchange", "text", ""),
        ("trade_id", "text", ""),
        ("conditions", "texts", ()),
        *_TAIL,
    ),
    RecordType.QUOTE: (
        *_HEAD,
        ("bid_price", "num", REQUIRED),
        ("bid_size", "num", REQUIRED),
        ("ask_price", "num", REQUIRED),
        ("ask_size", "num", REQUIRED),
        ("bid_exchange", "text", ""),
        ("ask_exchange", "text", ""),
        ("conditions", "texts", ()),
        *_TAIL,
    ),
    RecordType.BAR: (
        *_HEAD,
        ("interval_s", "uint", REQUIRED),
        ("open", "num", REQUIRED),
        ("high", "num", REQUIRED),
        ("low", "num", REQUIRED),
        ("close", "num", REQUIRED),
        ("volume", "num", REQUIRED),
        ("vwap", "num", 0.0),
        ("trade_count", "uint", 0),
        *_TAIL,
    ),
}


def checked_row(body: dict[str, Any], expected: RecordType) -> list[Any]:
    """The row for ``body``; raise InvalidMessage naming the first field that is wrong."""
    _check_envelope(body, expected)
    return [_field(body, name, kind, default) for name, kind, default in FIELDS[expected]]


def _check_envelope(body: dict[str, Any], expected: RecordType) -> None:
    if "v" not in body:
        raise InvalidMessage("missing_field", "field 'v' (schema version) is missing")
    if type(body["v"]) is not int or body["v"] != SCHEMA_VERSION:  # not 1.0, not True
        raise InvalidMessage("schema_version", f"v={body['v']!r}, expected {SCHEMA_VERSION}")
    if body.get("type") != expected.value:
        raise InvalidMessage(
            "wrong_record_type", f"type={body.get('type')!r} on the {expected.value} topic"
        )


def _field(body: dict[str, Any], name: str, kind: str, default: Any) -> Any:
    value = body.get(name, default)
    if value is REQUIRED or value is None:
        raise InvalidMessage("missing_field", f"field {name!r} is missing")
    if value is default:
        return list(default) if kind == "texts" else default
    return _CONVERT[kind](name, value)


def _bad(name: str, value: Any, expected: str) -> InvalidMessage:
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:40] + "..."
    return InvalidMessage("bad_field_type", f"field {name!r} = {shown} is not {expected}")


def _num(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(name, value, "a number")
    if not math.isfinite(value):
        raise InvalidMessage("non_finite", f"field {name!r} = {value!r}")
    return float(value)


def _uint(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise _bad(name, value, "a non-negative integer")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > TEXT_MAX_LEN:
        raise _bad(name, value, f"a string of at most {TEXT_MAX_LEN} characters")
    return value


def _texts(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > TEXT_MAX_LEN:
        raise _bad(name, value, "a list of strings")
    return [_text(name, item) for item in value]


def _asset(name: str, value: Any) -> str:
    if not isinstance(value, str) or value not in ASSET_CLASSES:
        raise _bad(name, value, f"one of {sorted(ASSET_CLASSES)}")
    return str(value)


def _symbol(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _bad(name, value, "a string")
    return value


_CONVERT = {
    "num": _num,
    "uint": _uint,
    "time": _uint,
    "text": _text,
    "texts": _texts,
    "asset": _asset,
    "symbol": _symbol,
}
