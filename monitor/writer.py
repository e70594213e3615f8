"""Batched, bounded writes to one ClickHouse table that tolerate ClickHouse being down.

Rows are appended in memory and written by :meth:`BufferedWriter.flush` (the detector calls it on
a timer). If the insert fails, the rows stay queued; when the queue is full the oldest rows are
dropped and counted, so a long ClickHouse outage costs memory bounded by ``max_rows``.
"""

from __future__ import annotations

import threading
from collections import deque

from loguru import logger

from monitor.chconn import ClickHouseHandle
from monitor.errors import CheckUnavailable


class BufferedWriter:
    """Queue rows for ``table``; :meth:`flush` writes up to ``batch_rows`` of them at a time."""

    def __init__(
        self,
        handle: ClickHouseHandle,
        table: str,
        columns: list[str],
        *,
        max_rows: int = 10_000,
        batch_rows: int = 5_000,
    ) -> None:
        self._handle = handle
        self.table = table
        self._columns = columns
        self._rows: deque[tuple[int, list[object]]] = deque(maxlen=max_rows)
        self._seq = 0
        self._batch_rows = batch_rows
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.dropped = 0

    def add(self, row: list[object]) -> None:
        """Queue one row; never blocks on ClickHouse."""
        with self._lock:
            if len(self._rows) == self._rows.maxlen:
                self.dropped += 1
            self._seq += 1
            self._rows.append((self._seq, row))

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._rows)

    def flush(self) -> int:
        """Write queued rows; return how many were written. Keeps them queued on failure."""
        written = 0
        with self._flush_lock:
            while batch := self._peek():
                try:
                    self._handle.insert(self.table, [r for _, r in batch], self._columns)
                except CheckUnavailable as exc:
                    logger.debug(
                        "{} not written yet ({} rows queued): {}", self.table, self.pending, exc
                    )
                    return written
                self._discard(batch[-1][0])
                written += len(batch)
        return written

    def _peek(self) -> list[tuple[int, list[object]]]:
        with self._lock:
            return [self._rows[i] for i in range(min(self._batch_rows, len(self._rows)))]

    def _discard(self, last_seq: int) -> None:
        # Rows are numbered, so rows the deque dropped on overflow during the insert are not
        # mistaken for written ones.
        with self._lock:
            while self._rows and self._rows[0][0] <= last_seq:
                self._rows.popleft()
