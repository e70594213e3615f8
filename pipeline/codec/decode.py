"""Kafka message bytes -> a JSON object -> a row, field by field (the slow path).

:func:`decode` parses a message value into a JSON object. :func:`checked_row` turns it into the
row of :data:`pipeline.codec.spec.FIELDS`, examining field by field and raising
:class:`~pipeline.errors.InvalidMessage` that says which field is wrong. Bounds and cross-field
rules are :mod:`pipeline.codec.validate`'s; the fast path for well-typed objects is
:mod:`pipeline.codec.fast`.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from pipeline.codec.records import SCHEMA_VERSION, RecordType
from pipeline.codec.spec import ASSET_CLASSES, FIELDS, REQUIRED, TEXT_MAX_LEN
from pipeline.errors import InvalidMessage


def decode(payload: bytes | None) -> dict[str, Any]:
    """Parse a message value into a JSON object; raise InvalidMessage if it is not one."""
    try:
        body = orjson.loads(payload or b"")
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage("malformed_json", str(exc)) from None
    if not isinstance(body, dict):
        raise InvalidMessage("not_an_object", f"top-level JSON is {type(body).__name__}")
    return body


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
