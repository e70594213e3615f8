"""Records of one type held column-wise: how a vectorised source hands a whole block over.

A :class:`RecordBlock` is ``size`` records of one record dataclass, one column per field:

* a plain value (``"simulator"``, ``0``) — the same in every row;
* a numpy array of ``int64`` or ``float64`` — one number per row;
* :class:`Categorical` — few distinct values (symbols, venues, asset classes, condition tuples),
  ``values[codes[i]]`` in row ``i``;
* :class:`Digits` — a text field that holds an integer in decimal (a sequence-number trade id).

A field left out takes its dataclass default; a required field must be given. ``records()``
builds the very records a row-at-a-time source would have built (same types and values);
:func:`pipeline.codec.block_wire.encode_block` writes their JSON v1 values in one pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.codec.records import Record, RecordType

NUMERIC_DTYPES = (np.dtype(np.int64), np.dtype(np.float64))


@dataclass(frozen=True, slots=True)
class Categorical:
    """A column of few distinct values: row ``i`` holds ``values[codes[i]]``."""

    codes: npt.NDArray[np.int64]
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Digits:
    """A text column of non-negative integers written in decimal (``str(n)``)."""

    numbers: npt.NDArray[np.int64]


def objects(values: tuple[Any, ...] | list[Any], scalars: bool = False) -> npt.NDArray[np.object_]:
    """A 1-D object array of ``values``; tuples and lists stay whole elements (``scalars``:
    the caller knows there are none, which saves a pass)."""
    out = np.empty(len(values), dtype=object)
    if not scalars and any(isinstance(v, tuple | list) for v in values):
        for i, value in enumerate(values):
            out[i] = value
    else:
        out[:] = values
    return out


def take(
    table: tuple[Any, ...] | list[Any], codes: npt.NDArray[np.int64], scalars: bool = False
) -> list[Any]:
    """``[table[c] for c in codes]`` at C speed (``scalars``: see :func:`objects`)."""
    return list(objects(table, scalars)[codes].tolist())


@dataclass(frozen=True)
class RecordBlock:
    """``size`` records of ``cls``, column-wise (see the module docstring).

    Raises ``ValueError`` naming the field for an unknown field, a missing required field, a
    column of the wrong length or dtype, or a symbol that is neither a plain value nor
    categorical (the Kafka key is built from it).
    """

    cls: type[Record]
    size: int
    columns: Mapping[str, Any]

    def __post_init__(self) -> None:
        known = {f.name: f for f in dataclasses.fields(self.cls)}
        where = self.cls.__name__
        for name, column in self.columns.items():
            if name not in known:
                raise ValueError(f"{where} has no field {name!r}")
            _check_column(f"{where}.{name}", column, self.size)
        for name, f in known.items():
            required = f.default is dataclasses.MISSING
            if required and name not in self.columns:
                raise ValueError(f"{where}.{name} is required and has no column")
        if isinstance(self.columns["symbol"], np.ndarray | Digits):
            raise ValueError(f"{where}.symbol must be a plain value or Categorical")

    @property
    def kind(self) -> RecordType:
        """The record type of every row."""
        return self.cls.kind

    def column(self, name: str) -> Any:
        """The column of field ``name``: as given, or its dataclass default."""
        if name in self.columns:
            return self.columns[name]
        return next(f.default for f in dataclasses.fields(self.cls) if f.name == name)

    def values(self, name: str) -> list[Any]:
        """The Python values of field ``name``, one per row (what the records hold)."""
        column = self.column(name)
        if isinstance(column, Categorical):
            return take(column.values, column.codes)
        if isinstance(column, Digits):
            return list(map(str, column.numbers.tolist()))
        if isinstance(column, np.ndarray):
            return list(column.tolist())
        return [column] * self.size

    def records(self) -> list[Record]:
        """The rows as record dataclasses, in row order."""
        names = [f.name for f in dataclasses.fields(self.cls)]
        columns = [self.values(name) for name in names]
        return [self.cls(*row) for row in zip(*columns, strict=True)]

    def keys(self) -> list[bytes]:
        """The Kafka key of every row: the symbol, UTF-8."""
        symbol = self.column("symbol")
        if isinstance(symbol, Categorical):
            return take(tuple(str(s).encode() for s in symbol.values), symbol.codes, scalars=True)
        return [str(symbol).encode()] * self.size

    def symbol_counts(self, rows: npt.NDArray[np.int64]) -> dict[str, int]:
        """How many of ``rows`` (row numbers, repeats counted) belong to each symbol."""
        symbol = self.column("symbol")
        if not isinstance(symbol, Categorical):
            return {str(symbol): len(rows)} if len(rows) else {}
        counts = np.bincount(symbol.codes[rows], minlength=len(symbol.values))
        return {str(symbol.values[c]): int(counts[c]) for c in np.flatnonzero(counts).tolist()}


def _check_column(where: str, column: Any, size: int) -> None:
    if isinstance(column, Categorical):
        _check_array(where, column.codes, size, integer=True)
        if len(column.codes) and not 0 <= int(column.codes.min()) <= int(column.codes.max()) < len(
            column.values
        ):
            raise ValueError(f"{where}: a category code is out of range")
    elif isinstance(column, Digits):
        _check_array(where, column.numbers, size, integer=True)
    elif isinstance(column, np.ndarray):
        _check_array(where, column, size, integer=False)


def _check_array(where: str, array: npt.NDArray[Any], size: int, *, integer: bool) -> None:
    if array.ndim != 1 or len(array) != size:
        raise ValueError(f"{where}: expected {size} values, got shape {array.shape}")
    allowed = NUMERIC_DTYPES[:1] if integer else NUMERIC_DTYPES
    if array.dtype not in allowed:
        raise ValueError(f"{where}: dtype {array.dtype} is not one of {[str(d) for d in allowed]}")
