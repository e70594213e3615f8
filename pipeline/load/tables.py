"""Where each record type goes in ClickHouse, and the column buffers that fill one insert.

A row is built from :data:`pipeline.codec.FIELDS` (``symbol`` .. ``received_at``) followed by
the Kafka columns. Columns are kept as Python lists and sent column-oriented; times are integer
ticks (µs for ``DateTime64(6)``, ms for ``DateTime64(3)``), which clickhouse-connect writes as is.
"""

from __future__ import annotations

from typing import Any

from pipeline.codec import FIELDS, SCHEMA_VERSION, RecordType

TABLES = {RecordType.TRADE: "trades", RecordType.QUOTE: "quotes", RecordType.BAR: "bars"}
_RENAMED = {"ts": "event_time", "recv_ts": "received_at"}
KAFKA_COLUMNS = ("kafka_time", "inserted_at", "kafka_partition", "kafka_offset")
EVENT_TIME = 2  # index of event_time in every row


def column_names(kind: RecordType) -> tuple[str, ...]:
    """The table's columns in insert order."""
    fields = tuple(_RENAMED.get(name, name) for name, _, _ in FIELDS[kind])
    return fields + KAFKA_COLUMNS


class ColumnBuffer:
    """The valid rows of one batch; turned into columns when inserted."""

    def __init__(self, kind: RecordType) -> None:
        self.kind = kind
        self.rows: list[list[Any]] = []
        self.kafka_time_ms: list[int] = []
        self.offsets: list[int] = []

    def __len__(self) -> int:
        return len(self.offsets)

    def append(self, row: list[Any], kafka_time_ms: int, offset: int) -> None:
        """Add one validated row; a missing ``recv_ts`` (0) becomes the Kafka time."""
        if row[-1] == 0:
            row[-1] = kafka_time_ms * 1000
        self.rows.append(row)
        self.kafka_time_ms.append(kafka_time_ms)
        self.offsets.append(offset)

    def columns(
        self, partition: int, inserted_at_us: int, lo: int = 0, hi: int | None = None
    ) -> list[list[Any]]:
        """Columns of rows ``[lo, hi)`` (default: all) in :func:`column_names` order,
        ``inserted_at`` filled with one value."""
        whole = lo == 0 and hi is None
        hi = len(self.offsets) if hi is None else hi
        rows = self.rows if whole else self.rows[lo:hi]
        kafka_time = self.kafka_time_ms if whole else self.kafka_time_ms[lo:hi]
        offsets = self.offsets if whole else self.offsets[lo:hi]
        n = len(offsets)
        fields = [list(column) for column in zip(*rows, strict=True)]
        return [*fields, kafka_time, [inserted_at_us] * n, [partition] * n, offsets]

    def event_times_us(self, lo: int = 0, hi: int | None = None) -> list[int]:
        rows = self.rows if lo == 0 and hi is None else self.rows[lo:hi]
        return [row[EVENT_TIME] for row in rows]

    def wire(self, index: int) -> dict[str, Any]:
        """Row ``index`` as a wire object (schema version 1), for a dead letter of a row the
        database rejected after validation accepted it."""
        names = [name for name, _, _ in FIELDS[self.kind]]
        body: dict[str, Any] = {"v": SCHEMA_VERSION, "type": self.kind.value}
        body.update(zip(names, self.rows[index], strict=True))
        return body
