"""Row writers: ClickHouse over HTTP for production, in memory for tests and benchmarks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from tickwatch.chhandle import ClickHouseHandle
from tickwatch.telemetry.export import Row, TableSpec

# Telemetry is written in small frequent batches from many processes; asynchronous inserts let
# ClickHouse merge them into fewer parts, and waiting for them keeps errors visible to us.
INSERT_SETTINGS = {"async_insert": 1, "wait_for_async_insert": 1}


class ClickHouseRowWriter:
    """Inserts rows through a :class:`~tickwatch.chhandle.ClickHouseHandle` built on ``connect``.

    A failed insert closes the client (the handle reconnects on the next insert) and raises
    :class:`~tickwatch.errors.ServiceUnavailable`, so the exporter requeues the batch and backs
    off. Only the exporter thread calls ``insert``.
    """

    def __init__(self, connect: Callable[[], Any], database: str) -> None:
        self._handle = ClickHouseHandle(connect)
        self._database = database

    def insert(self, table: TableSpec, rows: Sequence[Row]) -> None:
        """Insert ``rows`` into ``database.table``; raises on any failure."""
        self._handle.run(
            lambda client: client.insert(
                table.name,
                rows,
                column_names=table.column_names,
                column_type_names=table.column_types,
                database=self._database,
                settings=INSERT_SETTINGS,
            )
        )

    def close(self) -> None:
        """Close the current client, if any."""
        self._handle.close()


class MemoryRowWriter:
    """Keeps inserted rows per table name; ``fail`` makes every insert raise ``ConnectionError``."""

    def __init__(self) -> None:
        self.tables: dict[str, list[Row]] = {}
        self.fail = False
        self.inserts = 0
        self.attempts = 0
        self.closed = False
        self._lock = threading.Lock()

    def insert(self, table: TableSpec, rows: Sequence[Row]) -> None:
        """Record ``rows`` under ``table.name`` or raise when ``fail`` is set."""
        self.attempts += 1
        if self.fail:
            raise ConnectionError("ClickHouse is unreachable (simulated)")
        with self._lock:
            self.inserts += 1
            self.tables.setdefault(table.name, []).extend(rows)

    def close(self) -> None:
        """Mark the writer closed."""
        self.closed = True

    def rows(self, table: str) -> list[Row]:
        """A copy of the rows written to ``table`` so far."""
        with self._lock:
            return list(self.tables.get(table, []))


class NullRowWriter:
    """Discards everything: the writer when telemetry export is disabled."""

    def insert(self, table: TableSpec, rows: Sequence[Row]) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""
