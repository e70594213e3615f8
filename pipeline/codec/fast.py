"""The fast path of validation: an object whose fields all have exactly the expected JSON types.

Nearly every message is well formed, so :func:`typed_row` checks a whole row with a few C-level
operations (one tuple of types compared against the accepted ones, ``map``/``all`` over the
numbers, the integers and the strings) instead of one Python call per field. It returns None for
anything it does not accept outright — an integer price, a missing field, a wrong type — and the
caller then runs :func:`pipeline.codec.decode.checked_row`, which accepts the same values or says
what is wrong. It never accepts what ``checked_row`` would reject.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from pipeline.codec.records import SCHEMA_VERSION, RecordType
from pipeline.codec.spec import ASSET_CLASSES, FIELDS, REQUIRED, TEXT_MAX_LEN, Spec

_TYPES = {
    "num": float,
    "uint": int,
    "time": int,
    "text": str,
    "symbol": str,
    "asset": str,
    "texts": list,
}
_Getter = Callable[[list[Any]], Sequence[Any]]


@dataclass(frozen=True, slots=True)
class _Plan:
    defaults: tuple[tuple[str, Any], ...]  # a required field defaults to None: no type matches
    values: Callable[[dict[str, Any]], Sequence[Any]]  # every field, when all are present
    types: frozenset[tuple[type, ...]]  # an absent list field keeps its default (), a tuple
    numbers: _Getter
    integers: _Getter
    strings: _Getter
    asset: int
    lists: tuple[int, ...]


def _getter(indexes: list[int]) -> _Getter:
    if len(indexes) == 1:
        index = indexes[0]
        return lambda row: (row[index],)
    return itemgetter(*indexes)


def _plan(spec: Spec) -> _Plan:
    kinds = [kind for _, kind, _ in spec]
    lists = tuple(i for i, kind in enumerate(kinds) if kind == "texts")
    types = {tuple(_TYPES[kind] for kind in kinds)}
    for i in lists:
        types |= {(*t[:i], tuple, *t[i + 1 :]) for t in types}

    def where(*wanted: str) -> _Getter:
        return _getter([i for i, kind in enumerate(kinds) if kind in wanted])

    return _Plan(
        defaults=tuple((name, None if d is REQUIRED else d) for name, _, d in spec),
        values=itemgetter(*(name for name, _, _ in spec)),
        types=frozenset(types),
        numbers=where("num"),
        integers=where("uint", "time"),
        strings=where("text", "symbol", "asset"),
        asset=kinds.index("asset"),
        lists=lists,
    )


_PLANS = {kind: _plan(spec) for kind, spec in FIELDS.items()}


def typed_row(body: dict[str, Any], expected: RecordType) -> list[Any] | None:
    """The row for ``body`` if every field is exactly well typed and in range, else None."""
    version = body.get("v")
    if type(version) is not int or version != SCHEMA_VERSION or body.get("type") != expected:
        return None
    plan = _PLANS[expected]
    try:
        row = list(plan.values(body))
    except KeyError:  # an optional field is absent
        row = [body.get(name, default) for name, default in plan.defaults]
    if not _fits(row, plan):
        return None
    for index in plan.lists:
        value = row[index]
        if type(value) is tuple:
            row[index] = list(value)
        elif value and not _strings_fit(value):
            return None
    return row


def _fits(row: list[Any], plan: _Plan) -> bool:
    integers = plan.integers(row)
    return (
        tuple(map(type, row)) in plan.types
        and all(map(math.isfinite, plan.numbers(row)))
        and min(integers) >= 0
        and max(integers) < 2**63
        and max(map(len, plan.strings(row))) <= TEXT_MAX_LEN
        and row[plan.asset] in ASSET_CLASSES
    )


def _strings_fit(values: list[Any]) -> bool:
    return len(values) <= TEXT_MAX_LEN and all(
        type(v) is str and len(v) <= TEXT_MAX_LEN for v in values
    )
