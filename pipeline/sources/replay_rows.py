"""Rows of a replay file (CSV, JSONL or Parquet) turned into records, or a precise error.

A row's record type comes from its ``type`` column, else from the file's columns (``bid_price``
→ quote, ``open`` → bar, ``price`` → trade). Columns are the wire format's field names
(:mod:`pipeline.codec`); unknown columns are ignored, empty cells take the field's default.
``ts`` (and ``recv_ts``) may be integer microseconds since the epoch or ISO 8601 text (a time
without a zone is UTC); ``conditions`` may be a list or text separated by spaces, ``;`` or ``|``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import MISSING, fields
from datetime import UTC, datetime
from typing import Any

from pipeline.codec import AssetClass, Bar, Quote, Record, RecordType, Trade, TradeCorrection
from pipeline.errors import SourceError

RECORD_CLASSES: dict[RecordType, type[Record]] = {
    RecordType.TRADE: Trade,
    RecordType.QUOTE: Quote,
    RecordType.BAR: Bar,
    RecordType.CORRECTION: TradeCorrection,
}
TIME_FIELDS = frozenset({"ts", "recv_ts"})


class ReplayError(SourceError):
    """A replay file cannot be read; the message names the file, the line or row and column."""

    recoverable = False


def infer_type(columns: Collection[str]) -> RecordType | None:
    """The record type a file with these columns holds, when it has no ``type`` column."""
    if "type" in columns:
        return None
    for column, kind in (
        ("bid_price", RecordType.QUOTE),
        ("open", RecordType.BAR),
        ("price", RecordType.TRADE),
    ):
        if column in columns:
            return kind
    raise ReplayError("no 'type' column and none of bid_price/open/price to infer it from")


def to_record(row: Mapping[str, Any], default: RecordType | None, where: str) -> Record:
    """Build the record of ``row``; ``where`` ("file.csv line 7") prefixes any error."""
    kind = _kind(row.get("type"), default, where)
    cls = RECORD_CLASSES[kind]
    values: dict[str, Any] = {}
    for f in fields(cls):
        raw = row.get(f.name)
        if raw is None or raw == "":
            if f.default is MISSING:
                raise ReplayError(f"{where}: column {f.name!r} is missing or empty")
            continue
        try:
            values[f.name] = _CONVERT.get(f.name, _convert_for(str(f.type)))(raw)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ReplayError(f"{where}: column {f.name!r} = {raw!r}: {exc}") from None
    return cls(**values)


def _kind(value: Any, default: RecordType | None, where: str) -> RecordType:
    if value is None or value == "":
        if default is None:
            raise ReplayError(f"{where}: column 'type' is empty")
        return default
    try:
        return RecordType(str(value).lower())
    except ValueError:
        raise ReplayError(
            f"{where}: column 'type' = {value!r}: expected trade, quote, bar or correction"
        ) from None


def _time(value: Any) -> int:
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    else:
        when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 1_000_000 + when.microsecond


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("expected a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _integer(value: Any) -> int:
    number = _number(value)
    if number != int(number):
        raise ValueError("expected a whole number")
    return int(number)


def _conditions(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return tuple(c for c in re.split(r"[\s;|]+", str(value)) if c)


def _convert_for(annotation: str) -> Callable[[Any], Any]:
    return {"float": _number, "int": _integer}.get(annotation, str)


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "ts": _time,
    "recv_ts": _time,
    "asset_class": lambda v: AssetClass(str(v).lower()),
    "conditions": _conditions,
    "corrected_conditions": _conditions,
}
