"""The shared, non-blocking path from telemetry producers to ClickHouse.

Producers (the span processor, the loguru sink, the snapshot and heartbeat jobs) ``offer`` items
to a bounded :class:`Channel` per signal; an offer never blocks and never raises: when the
channel is full the item is dropped and counted in ``tickwatch_telemetry_dropped_total``.
One daemon thread (:class:`Exporter`) runs the periodic jobs, turns queued items into rows and
inserts them through a :class:`RowWriter`. When ClickHouse is unreachable the batch goes back to
the front of its channel (still bounded: what does not fit is dropped and counted) and the next
attempt waits with exponential backoff, so a dead ClickHouse costs the pipeline a bounded amount
of memory and no blocking. The pieces are the kernel's: a channel is a
:class:`~tickwatch.buffer.BoundedQueue`, the delays come from :mod:`tickwatch.backoff`, and
:class:`~tickwatch.telemetry.writer.ClickHouseRowWriter` inserts through the same reconnecting
:class:`~tickwatch.chhandle.ClickHouseHandle` as the detector and the alert journal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from loguru import logger

from tickwatch.backoff import Attempts, Backoff
from tickwatch.buffer import BoundedQueue
from tickwatch.clock import SYSTEM_CLOCK, MonotonicClock
from tickwatch.telemetry.catalog import TelemetryMetrics

T = TypeVar("T")
Row = Sequence[Any]

INTERNAL = {"telemetry_internal": True}
"""loguru ``extra`` marking the exporter's own records, which the ClickHouse log sink skips."""


@dataclass(frozen=True)
class TableSpec:
    """A table the exporter writes: name (without database) and (column, ClickHouse type) pairs.

    Types are given so inserts need no ``DESCRIBE`` round trip.
    """

    name: str
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def column_types(self) -> list[str]:
        return [kind for _, kind in self.columns]


class RowWriter(Protocol):
    """Writes rows to a table; raises any exception when the rows were not written."""

    def insert(self, table: TableSpec, rows: Sequence[Row]) -> None: ...

    def close(self) -> None: ...


class Channel(BoundedQueue[T]):
    """A bounded FIFO of one signal's items, converted to rows only when they are written.

    When full, a new item is refused and counted in ``tickwatch_telemetry_dropped_total``.
    """

    def __init__(
        self,
        signal: str,
        table: TableSpec,
        to_row: Callable[[T], Row],
        capacity: int,
        metrics: TelemetryMetrics,
        *,
        wake: Callable[[], None] = lambda: None,
        wake_at: int = 0,
    ) -> None:
        super().__init__(
            capacity,
            overflow="newest",
            on_drop=lambda n: metrics.dropped(signal, n),
            wake=wake,
            wake_at=wake_at,
        )
        self.signal = signal
        self.table = table
        self._to_row = to_row
        self._metrics = metrics

    def rows(self, items: Sequence[T]) -> tuple[list[T], list[Row]]:
        """Convert items to rows: (the items that converted, their rows).

        An item that cannot be converted is dropped and counted, once.
        """
        kept: list[T] = []
        rows: list[Row] = []
        for item in items:
            try:
                rows.append(self._to_row(item))
            except Exception:  # one malformed item must not stop the exporter
                self._metrics.dropped(self.signal)
            else:
                kept.append(item)
        return kept, rows


@dataclass
class _Job:
    interval_s: float
    run: Callable[[], None]
    due: float = 0.0


@dataclass(frozen=True)
class ExporterConfig:
    """How often and how much the exporter writes.

    ``flush_interval_s`` is the time between two writes of the queued items (each channel's in
    one INSERT up to ``batch_max`` rows); a channel reaching ``batch_max`` is written at once.
    """

    batch_max: int = 5_000
    flush_interval_s: float = 10.0  # TelemetrySettings.flush_interval_s (a test checks)
    retry_initial_s: float = 1.0
    retry_max_s: float = 30.0
    idle_wait_s: float = 0.25


@dataclass
class _State:
    channels: list[Channel[Any]] = field(default_factory=list)
    jobs: list[_Job] = field(default_factory=list)
    last_flush: float = float("-inf")
    failing: bool = False


class Exporter:
    """Runs periodic jobs and writes every channel to ClickHouse from one daemon thread.

    ``run_once(now)`` does one round (due jobs, then a flush if due and not backing off) and
    is what tests drive with a fake monotonic clock; ``start()`` runs it in a loop.
    ``close(timeout)`` stops the loop, makes one last write attempt and joins the thread for at
    most ``timeout`` seconds; items still queued after that are counted as dropped.
    """

    def __init__(
        self,
        writer: RowWriter,
        metrics: TelemetryMetrics,
        config: ExporterConfig | None = None,
        clock: MonotonicClock = SYSTEM_CLOCK,
    ) -> None:
        self._writer = writer
        self._metrics = metrics
        self._config = config or ExporterConfig()
        self._clock = clock
        self._state = _State()
        retry = self._config
        self._backoff = Attempts(
            Backoff(retry.retry_initial_s, max(retry.retry_max_s, retry.retry_initial_s))
        )
        self._not_before = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._round = threading.Lock()

    def channel(
        self, signal: str, table: TableSpec, to_row: Callable[[T], Row], capacity: int
    ) -> Channel[T]:
        """A new bounded channel written to ``table``; register all channels before start()."""
        chan: Channel[T] = Channel(
            signal,
            table,
            to_row,
            capacity,
            self._metrics,
            wake=self._wake.set,
            wake_at=self._config.batch_max,
        )
        self._state.channels.append(chan)
        return chan

    def every(self, interval_s: float, job: Callable[[], None]) -> None:
        """Run ``job`` on the exporter thread every ``interval_s`` seconds, first at start."""
        self._state.jobs.append(_Job(interval_s, job))

    def start(self) -> None:
        """Start the daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="telemetry-export", daemon=True)
        self._thread.start()

    def run_once(self, now: float | None = None) -> None:
        """One round: run due jobs, then write every channel if a flush is due."""
        with self._round:
            now = self._clock.monotonic() if now is None else now
            self._run_jobs(now)
            full = any(len(c) >= self._config.batch_max for c in self._state.channels)
            due = now - self._state.last_flush >= self._config.flush_interval_s
            if (full or due) and now >= self._not_before:
                self._state.last_flush = now
                self._flush_all(now)

    def flush(self) -> bool:
        """Write everything queued when called, ignoring backoff; True if nothing is left
        (items queued while it writes wait for the next round)."""
        with self._round:
            self._flush_all(self._clock.monotonic())
            return all(len(c) == 0 for c in self._state.channels)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread after one last write attempt; waits at most ``timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self.flush()
        if self._thread is None or not self._thread.is_alive():
            self._drop_leftovers()
            self._writer.close()

    def _loop(self) -> None:
        # at least one full round (jobs included) runs even when close() follows start() at once
        while True:
            self.run_once()
            if self._stop.is_set():
                break
            self._wake.wait(self._config.idle_wait_s)
            self._wake.clear()
        self.flush()

    def _run_jobs(self, now: float) -> None:
        for job in self._state.jobs:
            if now >= job.due:
                job.due = now + job.interval_s
                try:
                    job.run()
                except Exception:  # a failing job must not stop the exporter
                    logger.bind(**INTERNAL).exception("telemetry job failed")

    def _flush_all(self, now: float) -> None:
        # A round writes what was queued when it began, in batches of at most batch_max: items
        # that arrive while an insert runs wait for the next round instead of being chased with
        # one tiny INSERT after another (one INSERT per channel per flush interval at low rates).
        # The first failed insert ends the round: a hanging server costs one timeout, not one
        # per channel.
        for chan in self._state.channels:
            left = len(chan)
            while left > 0:
                size = min(left, self._config.batch_max)
                left -= size
                if not self._write(chan, now, size):
                    return

    def _write(self, chan: Channel[Any], now: float, size: int) -> bool:
        items, rows = chan.rows(chan.take(size))
        if not rows:
            return True
        try:
            self._writer.insert(chan.table, rows)
        except Exception as exc:  # ClickHouse down must not crash the pipeline
            chan.requeue(items)
            self._failed(now, exc)
            return False
        self._metrics.exported(chan.signal, len(rows))
        self._recovered()
        return True

    def _failed(self, now: float, exc: Exception) -> None:
        self._not_before = now + self._backoff.next_delay()
        if not self._state.failing:
            self._state.failing = True
            logger.bind(**INTERNAL).warning(
                "telemetry export to ClickHouse failed, retrying with backoff: {}", exc
            )

    def _recovered(self) -> None:
        self._backoff.reset()
        self._not_before = 0.0
        if self._state.failing:
            self._state.failing = False
            logger.bind(**INTERNAL).info("telemetry export to ClickHouse recovered")

    def _drop_leftovers(self) -> None:
        for chan in self._state.channels:
            left = len(chan.take(len(chan)))
            if left:
                self._metrics.dropped(chan.signal, left)
