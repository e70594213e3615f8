"""Bounded, non-blocking queues of rows on their way to ClickHouse, and the one buffered writer.

:class:`BoundedQueue` is the only place that decides what happens when rows arrive faster than
ClickHouse takes them: it never blocks and never grows past ``capacity``; what does not fit is
dropped and counted through ``on_drop``. ``overflow`` says which rows go: ``"newest"`` refuses
the new item (telemetry: an offer must cost nothing), ``"oldest"`` evicts the oldest queued one
(health checks and the alert journal: the latest state matters most).

:class:`BufferedWriter` is a queue written to one table through a
:class:`~tickwatch.chhandle.ClickHouseHandle` by :meth:`~BufferedWriter.flush` (the detector and
the journal call it on a timer). If an insert fails the batch goes back to the front of the queue,
so a long ClickHouse outage costs memory bounded by ``max_rows``. The telemetry exporter writes
its channels (``BoundedQueue`` subclasses) the same way from its own thread.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, Literal, TypeVar

from loguru import logger

from tickwatch.chhandle import ClickHouseHandle
from tickwatch.errors import ServiceUnavailable

T = TypeVar("T")
Overflow = Literal["newest", "oldest"]


def _ignore(_n: int) -> None:
    """The default ``on_drop``."""


class BoundedQueue(Generic[T]):
    """A thread-safe FIFO of at most ``capacity`` items; see the module docstring for overflow.

    ``wake`` is called (outside the lock) when an offer makes the queue ``wake_at`` long, so a
    writer thread can flush a full batch without waiting for its timer.
    """

    def __init__(
        self,
        capacity: int,
        *,
        overflow: Overflow = "newest",
        on_drop: Callable[[int], None] = _ignore,
        wake: Callable[[], None] = lambda: None,
        wake_at: int = 0,
    ) -> None:
        self._capacity = capacity
        self._overflow = overflow
        self._on_drop = on_drop
        self._wake = wake
        self._wake_at = wake_at or capacity
        self._items: deque[T] = deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, item: T) -> bool:
        """Queue ``item``; never blocks. False when the item itself was refused (``"newest"``)."""
        with self._lock:
            full = len(self._items) >= self._capacity
            if full and self._overflow == "newest":
                size = -1
            else:
                if full:
                    self._items.popleft()
                self._items.append(item)
                size = len(self._items)
        if full:
            self._on_drop(1)
        if size == self._wake_at:
            self._wake()
        return size >= 0

    def take(self, n: int) -> list[T]:
        """Remove and return up to ``n`` of the oldest items."""
        with self._lock:
            return [self._items.popleft() for _ in range(min(n, len(self._items)))]

    def requeue(self, items: Sequence[T]) -> None:
        """Put unwritten ``items`` back in front; what no longer fits (the oldest) is dropped."""
        with self._lock:
            room = max(0, self._capacity - len(self._items))
            keep = list(items)[len(items) - room :] if room < len(items) else list(items)
            self._items.extendleft(reversed(keep))
        if len(keep) < len(items):
            self._on_drop(len(items) - len(keep))


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
        self._batch_rows = batch_rows
        self._queue: BoundedQueue[list[object]] = BoundedQueue(
            max_rows, overflow="oldest", on_drop=self._dropped
        )
        self._flush_lock = threading.Lock()
        self._drop_lock = threading.Lock()  # add() is called from several scheduler threads
        self.dropped = 0

    def _dropped(self, n: int) -> None:
        with self._drop_lock:
            self.dropped += n

    def add(self, row: list[object]) -> None:
        """Queue one row; never blocks on ClickHouse."""
        self._queue.offer(row)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def flush(self) -> int:
        """Write the rows queued when called, ``batch_rows`` per INSERT; return how many were
        written. Keeps them queued on failure. Rows added meanwhile wait for the next flush, so
        a busy producer costs one INSERT per flush, not one per few rows."""
        written = 0
        with self._flush_lock:
            left = len(self._queue)
            while left > 0 and (batch := self._queue.take(min(left, self._batch_rows))):
                left -= len(batch)
                try:
                    self._handle.insert(self.table, batch, self._columns)
                except ServiceUnavailable as exc:
                    self._queue.requeue(batch)
                    logger.debug(
                        "{} not written yet ({} rows queued): {}", self.table, self.pending, exc
                    )
                    return written
                written += len(batch)
        return written
