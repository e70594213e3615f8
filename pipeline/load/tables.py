"""Where each record type goes in ClickHouse, and the column buffers that fill one insert.

A row is built from :data:`pipeline.codec.FIELDS` (``symbol`` .. ``received_at``) followed by
the Kafka columns. A batch's rows stay Arrow arrays from the columnar decode to the INSERT: the
accepted rows of a poll are kept as slices of the decoder's arrays, the rows of the per-message
path as small chunks of the same types (:func:`pipeline.codec.columnar.arrow_types`). Times are
integer ticks (µs for ``DateTime64(6)``, ms for ``DateTime64(3)``) until the insert step casts
the table to the ClickHouse columns' types (:mod:`pipeline.load.arrow`).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.codec import FIELDS, SCHEMA_VERSION, RecordType
from pipeline.codec.columnar import arrow_types

TABLES = {
    RecordType.TRADE: "trades",
    RecordType.QUOTE: "quotes",
    RecordType.BAR: "bars",
    RecordType.CORRECTION: "trade_corrections",
}
_RENAMED = {"ts": "event_time", "recv_ts": "received_at"}
KAFKA_COLUMNS = ("kafka_time", "inserted_at", "kafka_partition", "kafka_offset")
EVENT_TIME = 2  # index of event_time in every row


def column_names(kind: RecordType) -> tuple[str, ...]:
    """The table's columns in insert order."""
    fields = tuple(_RENAMED.get(name, name) for name, _, _ in FIELDS[kind])
    return fields + KAFKA_COLUMNS


class ColumnBuffer:
    """The valid rows of one batch, in order: Arrow chunks of the :data:`FIELDS` columns, and
    each row's Kafka time and offset.

    Rows arrive one by one (:meth:`append`, the per-message path), as references into the
    arrays of a whole decoded poll (:meth:`take`, :mod:`pipeline.codec.columnar`), or as another
    buffer's rows (:meth:`extend`). Consecutive taken rows of one poll become one zero-copy slice
    and consecutive appended rows one small chunk, the next time the rows are read.
    """

    def __init__(self, kind: RecordType) -> None:
        self.kind = kind
        self.types = arrow_types(kind)
        self.chunks: list[list[pa.Array]] = []  # settled rows, each chunk in FIELDS order
        self.kafka_time_ms: array[int] = array("q")
        self.offsets: list[int] = []
        self._starts: list[int] = []  # the row index of each chunk's first row
        self._settled = 0  # rows in chunks
        self._rows: list[list[Any]] = []  # appended, not yet in chunks
        self._taken: tuple[list[pa.Array], list[int]] | None = None  # (arrays, their rows)

    def __len__(self) -> int:
        return len(self.offsets)

    def append(self, row: list[Any], kafka_time_ms: int, offset: int) -> None:
        """Add one validated row; a missing ``recv_ts`` (0) becomes the Kafka time."""
        if self._taken is not None:
            self._settle()
        if row[-1] == 0:
            row[-1] = kafka_time_ms * 1000
        self._rows.append(row)
        self.kafka_time_ms.append(kafka_time_ms)
        self.offsets.append(offset)

    def take(self, arrays: list[pa.Array], row: int, kafka_time_ms: int, offset: int) -> None:
        """Add row ``row`` of ``arrays`` (validated, ``recv_ts`` filled in, types as
        :attr:`types`) without copying it yet: the rows taken from the same arrays become one
        chunk, a zero-copy slice when they are consecutive (one partition's run of a poll)."""
        taken = self._taken
        if taken is None or taken[0] is not arrays:
            self._settle()
            taken = self._taken = (arrays, [])
        taken[1].append(row)
        self.kafka_time_ms.append(kafka_time_ms)
        self.offsets.append(offset)

    def extend(self, other: ColumnBuffer) -> None:
        """Append ``other``'s rows after this buffer's, in order (``other`` is left as it is;
        the arrays are shared, being immutable). Raises ValueError for another record type."""
        if other.kind is not self.kind:
            raise ValueError(
                f"cannot extend a {self.kind.value} buffer with {other.kind.value} rows"
            )
        self._settle()
        other._settle()
        for chunk in other.chunks:
            self._add_chunk(chunk)
        self.kafka_time_ms.extend(other.kafka_time_ms)
        self.offsets.extend(other.offsets)

    def _add_chunk(self, chunk: list[pa.Array]) -> None:
        if len(chunk[0]):
            self._starts.append(self._settled)
            self.chunks.append(chunk)
            self._settled += len(chunk[0])

    def _settle(self) -> None:
        """Move the rows not yet in :attr:`chunks` (appended rows, or the rows taken from one
        poll's arrays: a slice if consecutive, else a compact copy)."""
        if self._rows:
            appended, self._rows = self._rows, []
            columns = zip(*appended, strict=True)
            self._add_chunk([pa.array(c, t) for c, t in zip(columns, self.types, strict=True)])
        if self._taken is not None:
            arrays, taken = self._taken
            self._taken = None
            lo, n = taken[0], len(taken)
            if taken[-1] - lo == n - 1:  # ascending within a poll: consecutive
                self._add_chunk([a.slice(lo, n) for a in arrays])
            else:
                indices = pa.array(taken, pa.int64())
                self._add_chunk([a.take(indices) for a in arrays])

    def nbytes(self) -> int:
        """Bytes the rows' Arrow buffers span (slices of a poll count the poll's buffers they
        reference once per chunk), plus the Kafka times and offsets (list: 8 + 28 bytes a row)."""
        self._settle()
        arrow = sum(int(a.get_total_buffer_size()) for chunk in self.chunks for a in chunk)
        return arrow + 8 * len(self.kafka_time_ms) + 36 * len(self.offsets)

    def arrow(
        self, partition: int, inserted_at_us: int, lo: int = 0, hi: int | None = None
    ) -> pa.Table:
        """Rows ``[lo, hi)`` (default: all) as an Arrow table in :func:`column_names` order,
        ``inserted_at`` filled with one value; the types are the decoder's (times as int64 µs,
        ``kafka_time`` as int64 ms) — :func:`pipeline.load.arrow.for_table` casts them."""
        self._settle()
        hi = len(self) if hi is None else hi
        fields = [
            pa.chunked_array([chunk[i] for chunk in self.chunks], t).slice(lo, hi - lo)
            for i, t in enumerate(self.types)
        ]
        n = hi - lo
        kafka = [
            pa.array(np.asarray(self.kafka_time_ms[lo:hi], dtype=np.int64)),
            pa.repeat(pa.scalar(inserted_at_us, pa.int64()), n),
            pa.repeat(pa.scalar(partition, pa.int64()), n),
            pa.array(self.offsets[lo:hi], pa.int64()),
        ]
        return pa.Table.from_arrays([*fields, *kafka], names=list(column_names(self.kind)))

    def columns(
        self, partition: int, inserted_at_us: int, lo: int = 0, hi: int | None = None
    ) -> list[list[Any]]:
        """Rows ``[lo, hi)`` as Python lists in :func:`column_names` order (:meth:`arrow`)."""
        table = self.arrow(partition, inserted_at_us, lo, hi)
        return [column.to_pylist() for column in table.columns]

    def event_times_us(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """The ``event_time`` of rows ``[lo, hi)``, µs (int64)."""
        self._settle()
        hi = len(self) if hi is None else hi
        column = pa.chunked_array([c[EVENT_TIME] for c in self.chunks], pa.int64())
        return np.asarray(column.slice(lo, hi - lo).to_numpy(), dtype=np.int64)

    def wire(self, index: int) -> dict[str, Any]:
        """Row ``index`` as a wire object (schema version 1), for a dead letter of a row the
        database rejected after validation accepted it."""
        self._settle()
        at = bisect_right(self._starts, index) - 1
        chunk, row = self.chunks[at], index - self._starts[at]
        names = [name for name, _, _ in FIELDS[self.kind]]
        body: dict[str, Any] = {"v": SCHEMA_VERSION, "type": self.kind.value}
        body.update(zip(names, (column[row].as_py() for column in chunk), strict=True))
        return body
