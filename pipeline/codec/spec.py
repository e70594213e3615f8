"""The wire fields of each record type, derived from the dataclasses in
:mod:`pipeline.codec.records` — never written down a second time.

:data:`FIELDS` lists, per record type, ``(wire field, kind, default)`` in the column order of its
ClickHouse table: ``symbol``, ``asset_class``, then the dataclass's own fields in their order,
``recv_ts`` last (``ts`` fills ``event_time``, ``recv_ts`` fills ``received_at``). The kind comes
from the field's type (``float`` -> ``num``, ``int`` -> ``uint``, ``str`` -> ``text``,
``tuple[str, ...]`` -> ``texts``, :class:`AssetClass` -> ``asset``; ``symbol`` and ``ts`` are
their own kinds); the default is the dataclass default (an enum's value) or :data:`REQUIRED`.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any, get_type_hints

from pipeline.codec.records import AssetClass, Bar, Quote, RecordType, Trade

SYMBOL_MAX_LEN = 32
TEXT_MAX_LEN = 256
REQUIRED = object()
ASSET_CLASSES = frozenset(a.value for a in AssetClass)
Spec = tuple[tuple[str, str, Any], ...]

_HEAD = ("symbol", "asset_class")
_LAST = "recv_ts"
_OWN_KINDS = {"symbol": "symbol", "ts": "time"}
_KINDS: dict[Any, str] = {
    float: "num",
    int: "uint",
    str: "text",
    tuple[str, ...]: "texts",
    AssetClass: "asset",
}


def spec_of(cls: type) -> Spec:
    """The wire spec of a record dataclass (see the module docstring)."""
    hints = get_type_hints(cls)
    found = {f.name: f for f in dataclasses.fields(cls)}
    middle = [name for name in found if name not in (*_HEAD, _LAST)]
    return tuple(
        (name, _kind(cls, name, hints[name]), _default(found[name]))
        for name in (*_HEAD, *middle, _LAST)
    )


def _kind(cls: type, name: str, hint: Any) -> str:
    if name in _OWN_KINDS:
        return _OWN_KINDS[name]
    if hint not in _KINDS:
        raise TypeError(f"{cls.__name__}.{name}: no wire kind for type {hint!r}")
    return _KINDS[hint]


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is dataclasses.MISSING:
        return REQUIRED
    return field.default.value if isinstance(field.default, StrEnum) else field.default


FIELDS: dict[RecordType, Spec] = {
    RecordType.TRADE: spec_of(Trade),
    RecordType.QUOTE: spec_of(Quote),
    RecordType.BAR: spec_of(Bar),
}


def indexes(kind: RecordType, *kinds: str) -> tuple[int, ...]:
    """Row positions of the fields of ``kind`` whose kind is one of ``kinds``."""
    return tuple(i for i, (_, k, _) in enumerate(FIELDS[kind]) if k in kinds)


def index(kind: RecordType, name: str) -> int:
    """Row position of field ``name`` of ``kind``."""
    return [n for n, _, _ in FIELDS[kind]].index(name)
