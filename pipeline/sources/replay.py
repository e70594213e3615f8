"""Replay recorded trades, quotes and bars from CSV, JSON Lines or Parquet files.

Settings: ``ingest.replay_path`` (a file, or a directory whose files are replayed in name
order), ``ingest.replay_speed`` (1 = original pace, 10 = ten times faster, 0 = as fast as
possible) and ``ingest.replay_rebase`` (stamp each record with the time the replay schedules it
instead of its recorded time, for files older than the load worker's ``max_past_s``).
File layout and accepted values: :mod:`pipeline.sources.replay_rows`.

The source ends when the last file is done. A bad row stops it with a
:class:`~pipeline.sources.replay_rows.ReplayError` naming file, line or row and column, after
the rows before it were handed out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace

from pipeline.records import Payload, Record
from pipeline.sources.replay_files import read_rows, replay_files
from pipeline.sources.replay_rows import ReplayError, to_record
from tickwatch.clock import Clock, SystemClock
from tickwatch.settings import IngestSettings

MIN_SLEEP_S = 0.002


class ReplaySource:
    """A :class:`~pipeline.sources.base.Source` over replay files, paced by a clock."""

    name = "replay"

    def __init__(
        self, settings: IngestSettings, clock: Clock | None = None, batch_size: int = 5_000
    ) -> None:
        if settings.replay_path is None:
            raise ReplayError("ingest.replay_path is not set (TICKWATCH_INGEST_REPLAY_PATH)")
        self.files = replay_files(settings.replay_path)
        self._speed = settings.replay_speed
        self._rebase = settings.replay_rebase
        self._clock = clock or SystemClock()
        self._batch_size = batch_size
        self._closed = False

    def records(self) -> Iterator[Record]:
        """Every record of every file, in order, unpaced; raises ReplayError at a bad row."""
        for path in self.files:
            for where, row, default in read_rows(path):
                yield to_record(row, default, where)

    async def batches(self) -> AsyncIterator[Sequence[Payload]]:
        """Batches of records, each due at its recorded offset divided by the speed.

        At a bad row, the records read before it are yielded first, then ReplayError raised.
        """
        start = self._clock.time()
        first_ts: int | None = None
        batch: list[Payload] = []
        records = self.records()
        while not self._closed:
            try:
                record = next(records, None)
            except ReplayError:
                if batch:
                    yield batch
                raise
            if record is None:
                break
            first_ts = record.ts if first_ts is None else first_ts
            due = start + (record.ts - first_ts) / 1e6 / self._speed if self._speed else None
            wait = due - self._clock.time() if due is not None else 0.0
            if wait > MIN_SLEEP_S or len(batch) >= self._batch_size:
                if batch:
                    yield batch
                    batch = []
                await self._clock.sleep(wait)
            batch.append(self._stamp(record, due))
        if batch and not self._closed:
            yield batch

    def _stamp(self, record: Record, due: float | None) -> Record:
        if not self._rebase:
            return record
        when = due if due is not None else self._clock.time()
        return replace(record, ts=int(when * 1e6))

    async def aclose(self) -> None:
        """Stop after the current batch."""
        self._closed = True
