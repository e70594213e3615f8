"""Where each record type goes in ClickHouse, and the column buffers that fill one insert.

A row is built from :data:`pipeline.codec.FIELDS` (``symbol`` .. ``received_at``) followed by
the Kafka columns. Columns are kept as Python lists (one per field) and sent column-oriented;
times are integer ticks (µs for ``DateTime64(6)``, ms for ``DateTime64(3)``), which
clickhouse-connect writes as is.
"""

from __future__ import annotations

from typing import Any

from pipeline.codec import FIELDS, SCHEMA_VERSION, RecordType

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
    """The valid rows of one batch, held as columns (one list per field of :data:`FIELDS`).

    Rows arrive one by one (:meth:`append`, the per-message path) or as references into the
    columns of a whole decoded poll (:meth:`take`, :mod:`pipeline.codec.columnar`); both are
    copied into the columns (transposed, or as list slices) the next time the columns are read.
    """

    def __init__(self, kind: RecordType) -> None:
        self.kind = kind
        self.fields: list[list[Any]] = [[] for _ in FIELDS[kind]]
        self.kafka_time_ms: list[int] = []
        self.offsets: list[int] = []
        self._rows: list[list[Any]] = []  # appended, not yet in fields
        self._run: tuple[list[list[Any]], int, int] | None = None  # taken: (columns, lo, hi)

    def __len__(self) -> int:
        return len(self.offsets)

    def append(self, row: list[Any], kafka_time_ms: int, offset: int) -> None:
        """Add one validated row; a missing ``recv_ts`` (0) becomes the Kafka time."""
        if self._run is not None:
            self._settle()
        if row[-1] == 0:
            row[-1] = kafka_time_ms * 1000
        self._rows.append(row)
        self.kafka_time_ms.append(kafka_time_ms)
        self.offsets.append(offset)

    def take(self, columns: list[list[Any]], row: int, kafka_time_ms: int, offset: int) -> None:
        """Add row ``row`` of ``columns`` (validated, ``recv_ts`` filled in) without copying it
        yet: consecutive rows of the same columns are copied together."""
        run = self._run
        if run is not None and run[0] is columns and run[2] == row:
            self._run = (columns, run[1], row + 1)
        else:
            self._settle()
            self._run = (columns, row, row + 1)
        self.kafka_time_ms.append(kafka_time_ms)
        self.offsets.append(offset)

    def extend(self, other: ColumnBuffer) -> None:
        """Append ``other``'s rows (same record type) after this buffer's, in their order."""
        self._settle()
        other._settle()
        for mine, theirs in zip(self.fields, other.fields, strict=True):
            mine.extend(theirs)
        self.kafka_time_ms.extend(other.kafka_time_ms)
        self.offsets.extend(other.offsets)

    def _settle(self) -> None:
        """Copy the rows not yet in :attr:`fields` (appended rows, or a run of taken ones)."""
        if self._rows:
            rows, self._rows = self._rows, []
            for mine, column in zip(self.fields, zip(*rows, strict=True), strict=True):
                mine.extend(column)
        if self._run is not None:
            columns, lo, hi = self._run
            self._run = None
            for mine, theirs in zip(self.fields, columns, strict=True):
                mine.extend(theirs[lo:hi])

    def columns(
        self, partition: int, inserted_at_us: int, lo: int = 0, hi: int | None = None
    ) -> list[list[Any]]:
        """Columns of rows ``[lo, hi)`` (default: all) in :func:`column_names` order,
        ``inserted_at`` filled with one value."""
        self._settle()
        if lo == 0 and hi is None:
            fields, kafka_time, offsets = self.fields, self.kafka_time_ms, self.offsets
        else:
            fields = [column[lo:hi] for column in self.fields]
            kafka_time, offsets = self.kafka_time_ms[lo:hi], self.offsets[lo:hi]
        n = len(offsets)
        return [*fields, kafka_time, [inserted_at_us] * n, [partition] * n, offsets]

    def event_times_us(self, lo: int = 0, hi: int | None = None) -> list[int]:
        self._settle()
        return self.fields[EVENT_TIME][lo:hi]

    def wire(self, index: int) -> dict[str, Any]:
        """Row ``index`` as a wire object (schema version 1), for a dead letter of a row the
        database rejected after validation accepted it."""
        self._settle()
        names = [name for name, _, _ in FIELDS[self.kind]]
        body: dict[str, Any] = {"v": SCHEMA_VERSION, "type": self.kind.value}
        body.update(zip(names, (column[index] for column in self.fields), strict=True))
        return body
