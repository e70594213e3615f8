"""Where each record type goes in ClickHouse, and the column buffers that fill one insert.

A row is built from :data:`pipeline.validation.FIELDS` (``symbol`` .. ``received_at``) followed by
the Kafka columns. Columns are kept as Python lists and sent column-oriented; times are integer
ticks (µs for ``DateTime64(6)``, ms for ``DateTime64(3)``), which clickhouse-connect writes as is.
"""

from __future__ import annotations

from typing import Any

from pipeline.load.fields import FIELDS
from pipeline.records import RecordType

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

    def columns(self, partition: int, inserted_at_us: int) -> list[list[Any]]:
        """All columns in :func:`column_names` order, ``inserted_at`` filled with one value."""
        n = len(self.offsets)
        fields = [list(column) for column in zip(*self.rows, strict=True)]
        return [*fields, self.kafka_time_ms, [inserted_at_us] * n, [partition] * n, self.offsets]

    def event_times_us(self) -> list[int]:
        return [row[EVENT_TIME] for row in self.rows]
