"""Replay recorded trades, quotes and bars from CSV, JSON Lines or Parquet files.

Settings: ``ingest.replay_path`` (a file, or a directory whose files are replayed in name
order), ``ingest.replay_speed`` (1 = original pace, 10 = ten times faster, 0 = as fast as
possible) and ``ingest.replay_rebase`` (stamp each record with the time the replay schedules it
instead of its recorded time, for files older than the load worker's ``max_past_s``).
File layout and accepted values: :mod:`pipeline.sources.replay_rows`.

The source ends when the last file is done. A bad row stops it with a
:class:`~pipeline.sources.replay_rows.ReplayError` naming file, line or row and column, after
the rows before it were handed out.

With a position store the source resumes where the last saved position says, and a replay
that finished hands out nothing when started again, so replaying a file twice adds no row. Two
stores: Kafka (``ingest.replay_transactions``, the default; the position commits in the same
transaction as the records it covers, so even a ``kill -9`` re-sends nothing:
:mod:`pipeline.sources.replay_transactions`) and a file under ``ingest.state_dir``
(:class:`~pipeline.sources.replay_checkpoint.ReplayCheckpoint`; the ingest worker saves it only
when every record yielded so far was delivered, and a ``kill -9`` re-sends up to one checkpoint
interval: :mod:`pipeline.sources.checkpoint`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from itertools import islice

from loguru import logger

from pipeline.codec import Payload, Record
from pipeline.sources.replay_checkpoint import PositionStore, ReplayPosition
from pipeline.sources.replay_files import read_rows, replay_files
from pipeline.sources.replay_rows import ReplayError, to_record
from tickwatch.clock import Clock, SystemClock
from tickwatch.settings import IngestSettings

MIN_SLEEP_S = 0.002
COMMIT_BEFORE_SLEEP_S = 5.0
"""A transactional store is saved before a pause this long (a file's quiet hours at speed 1),
so no transaction stays open for longer than the broker lets it."""


class ReplaySource:
    """A :class:`~pipeline.sources.base.Source` over replay files, paced by a clock."""

    name = "replay"

    def __init__(
        self,
        settings: IngestSettings,
        clock: Clock | None = None,
        batch_size: int = 5_000,
        checkpoints: PositionStore | None = None,
    ) -> None:
        if settings.replay_path is None:
            raise ReplayError("ingest.replay_path is not set (TICKWATCH_INGEST_REPLAY_PATH)")
        self.files = replay_files(settings.replay_path)
        self._speed = settings.replay_speed
        self._rebase = settings.replay_rebase
        self._clock = clock or SystemClock()
        self._batch_size = batch_size
        self._closed = False
        self._resume = settings.replay_resume
        self._checkpoints: PositionStore | None = None
        self.start = ReplayPosition()
        self._handed_out = self.start  # position after the last record of the last batch
        if checkpoints is not None:
            self.resume_from(checkpoints)

    def resume_from(self, checkpoints: PositionStore) -> None:
        """Keep the position in ``checkpoints`` and start from the one saved there (unless
        ``ingest.replay_resume`` is false). Call before :meth:`batches`; raises CheckpointError."""
        self._checkpoints = checkpoints
        self.start = checkpoints.load() if self._resume else ReplayPosition()
        self._handed_out = self.start

    def records(self, start: ReplayPosition | None = None) -> Iterator[Record]:
        """Every record of every file from ``start``, in order, unpaced; raises ReplayError."""
        for _, _, record in self._positioned(start or ReplayPosition()):
            yield record

    def _positioned(self, start: ReplayPosition) -> Iterator[tuple[int, int, Record]]:
        """``(file index, records of that file so far, record)`` from ``start``."""
        if start.finished:
            return
        for index in range(start.file_index, len(self.files)):
            rows = read_rows(self.files[index])
            skip = start.records if index == start.file_index else 0
            for count, (where, row, default) in enumerate(islice(rows, skip, None), skip + 1):
                yield index, count, to_record(row, default, where)

    def checkpoint(self) -> None:
        """Record the position after the last batch handed out (all of it is in Kafka)."""
        if self._checkpoints is not None:
            self._checkpoints.save(self._handed_out)

    async def batches(self) -> AsyncIterator[Sequence[Payload]]:
        """Batches of records, each due at its recorded offset divided by the speed.

        At a bad row, the records read before it are yielded first, then ReplayError raised.
        """
        if self.start.finished:
            logger.info(
                "replay of {} already finished (checkpoint {}); nothing to do",
                self.files[0].parent if len(self.files) > 1 else self.files[0],
                self._checkpoints.where if self._checkpoints else "-",
            )
            return
        start = self._clock.time()
        first_ts: int | None = None
        batch: list[Payload] = []
        position = self.start
        records = self._positioned(self.start)
        while not self._closed:
            try:
                item = next(records, None)
            except ReplayError:
                if batch:
                    self._handed_out = position
                    yield batch
                raise
            if item is None:
                break
            index, count, record = item
            first_ts = record.ts if first_ts is None else first_ts
            due = start + (record.ts - first_ts) / 1e6 / self._speed if self._speed else None
            wait = due - self._clock.time() if due is not None else 0.0
            if wait > MIN_SLEEP_S or len(batch) >= self._batch_size:
                if batch:
                    self._handed_out = position
                    yield batch
                    batch = []
                self._commit_before(wait)
                await self._clock.sleep(wait)
            batch.append(self._stamp(record, due))
            position = ReplayPosition(index, count)
        if self._closed:
            return
        self._handed_out = replace(position, finished=True)
        if batch:
            yield batch

    def _commit_before(self, pause_s: float) -> None:
        """Before a long pause, commit what the worker has sent (transactional store only:
        every batch handed out so far is in the producer, since the worker asks for the next
        batch only after sending the last)."""
        store = self._checkpoints
        if store is not None and store.commits_records and pause_s > COMMIT_BEFORE_SLEEP_S:
            store.save(self._handed_out)

    def _stamp(self, record: Record, due: float | None) -> Record:
        if not self._rebase:
            return record
        when = due if due is not None else self._clock.time()
        return replace(record, ts=int(when * 1e6))

    async def aclose(self) -> None:
        """Stop after the current batch."""
        self._closed = True
