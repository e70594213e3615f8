"""The Arrow form of one INSERT: a batch's rows cast to the exact types of the table's columns.

The insert step sends ``INSERT INTO t (columns) FORMAT ArrowStream``. ClickHouse converts each
Arrow column to its column's type on arrival, and would convert silently (an Int64 of 300 into a
``UInt8`` wraps). So the types are cast here, from the ClickHouse type names the writer reads once
per table (:meth:`pipeline.load.insert.ClickHouseWriter._types`), into the Arrow types ClickHouse
maps without loss (``DateTime64(6)`` = ``timestamp[us]``, ``UInt32`` = ``uint32``,
``LowCardinality(String)`` = ``string``, ``Array(T)`` = ``list<T>``), with Arrow's *safe* cast:

* a ClickHouse type with no such mapping here -> :class:`ArrowSchemaError` (fatal: the table is
  not the one this code was written for; the worker stops with its offsets uncommitted);
* a value the target type cannot hold -> :class:`~pipeline.errors.InsertRejected` (reason
  :data:`OUT_OF_RANGE`), exactly as a rejection by the server: the batch is bisected and the
  culprit row becomes a dead letter (:mod:`pipeline.load.insert`).
"""

from __future__ import annotations

import re

import pyarrow as pa

from pipeline.errors import FatalError, InsertRejected

OUT_OF_RANGE = "clickhouse_value_is_out_of_range_of_data_type"  # ClickHouse's own error name
_SCALARS = {
    "String": pa.string(),
    "Float64": pa.float64(),
    "Float32": pa.float32(),
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
    "Int8": pa.int8(),
    "Int16": pa.int16(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
}
_UNITS = {"0": "s", "3": "ms", "6": "us", "9": "ns"}
_WRAPPED = re.compile(r"^(LowCardinality|Array)\((.*)\)$")
_DATETIME64 = re.compile(r"^DateTime64\((\d)(?:, *'[^']*')?\)$")


class ArrowSchemaError(FatalError):
    """A column's ClickHouse type has no lossless Arrow type here; names the column and type."""


def arrow_type(clickhouse_type: str) -> pa.DataType:
    """The Arrow type ClickHouse reads into ``clickhouse_type`` without loss; raises
    :class:`ArrowSchemaError` (message without the column, see :func:`schema`) when none."""
    wrapped = _WRAPPED.match(clickhouse_type)
    if wrapped:
        inner = arrow_type(wrapped.group(2))
        if wrapped.group(1) == "Array":
            return pa.list_(inner)
        # dictionary-encoded: ClickHouse takes the dictionary as the LowCardinality one
        return pa.dictionary(pa.int32(), inner) if inner == pa.string() else inner
    time = _DATETIME64.match(clickhouse_type)
    if time and time.group(1) in _UNITS:
        return pa.timestamp(_UNITS[time.group(1)], tz="UTC")
    if clickhouse_type in _SCALARS:
        return _SCALARS[clickhouse_type]
    raise ArrowSchemaError(f"no lossless Arrow type for ClickHouse type {clickhouse_type}")


def schema(table: str, names: list[str], clickhouse_types: list[str]) -> pa.Schema:
    """The Arrow schema of an insert into ``table``'s columns ``names`` of those types."""
    fields = []
    for name, type_name in zip(names, clickhouse_types, strict=True):
        try:
            fields.append(pa.field(name, arrow_type(type_name)))
        except ArrowSchemaError as exc:
            raise ArrowSchemaError(f"{table}.{name}: {exc}") from exc
    return pa.schema(fields)


def for_table(rows: pa.Table, target: pa.Schema, table: str) -> pa.Table:
    """``rows`` cast to ``target`` (safe: nothing truncated or wrapped). Raises
    :class:`InsertRejected` naming the column when a value does not fit its type."""
    columns = []
    for column, field in zip(rows.columns, target, strict=True):
        try:
            columns.append(column.cast(field.type, safe=True))
        except pa.ArrowNotImplementedError as exc:  # no such cast at all: the types are wrong
            raise ArrowSchemaError(f"{table}.{field.name}: {column.type} -> {field.type}") from exc
        except pa.ArrowInvalid as exc:  # this value does not fit: a row's fault
            raise InsertRejected(OUT_OF_RANGE, f"{table}.{field.name}: {exc}") from exc
    return pa.Table.from_arrays(columns, schema=target)


def stream(rows: pa.Table) -> pa.Buffer:
    """``rows`` in Arrow's IPC stream format as one record batch: the chunks (one per poll run)
    are joined here, in one copy, rather than squashed by the server (which would also make one
    block of them: ``min_insert_block_size_rows`` >= the batch's rows)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rows.schema) as writer:
        writer.write_table(rows.combine_chunks())
    return sink.getvalue()
