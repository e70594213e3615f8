"""When rows became visible in ClickHouse: a watcher that polls the tables' parts.

The load worker stamps ``inserted_at`` when it *starts* an INSERT; a row can be queried only once
its part is committed, at the INSERT's end. The local server has no ``system.part_log`` or
``system.query_log`` to read the INSERT's end from, so it is observed from outside:
:class:`PartWatcher` polls every ``period_s``

1. ``system.parts`` for the active parts of the watched tables (a cheap metadata query), and
2. for the parts it has not seen before, ``max(kafka_offset)`` per Kafka partition of those parts
   only (``WHERE _part IN …`` reads no other part). A merged part whose blocks (the INSERTs'
   parts, by block number) were all seen already adds nothing and is not read.

A part listed by poll *k* was visible at poll *k*'s snapshot. Per Kafka partition the load
worker inserts in offset order (a partition with an insert in flight joins no new one), so the
highest offset visible per partition says which rows are visible: every offset at or below it.
:class:`VisibilityLog` keeps, per (table, partition), each poll at which that highest offset grew;
a row's *visible time* is the midpoint between the snapshot of the poll that first showed it and
the snapshot of the poll before (the row became visible somewhere in between): the half-period
bias of "first seen at" is corrected, what is left is an error within ± half a poll gap (the
*resolution*, :attr:`VisibilityLog.gaps`). A snapshot's own time is the midpoint of its request
and its answer. A new part merged away before its offsets were read (between the two queries
of one poll) is counted in :attr:`PartWatcher.vanished`: its rows are then attributed to the
next part seen, later than they really became visible.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from clickhouse_connect.driver.client import Client

PARTS_SQL = """
SELECT table, name, level, min_block_number, max_block_number FROM system.parts
WHERE database = {db:String} AND table IN {tables:Array(String)} AND active
"""
MAXIMA_SQL = """
SELECT _part, kafka_partition, max(kafka_offset) FROM {table}
WHERE _part IN {{parts:Array(String)}} GROUP BY _part, kafka_partition
"""

Key = tuple[str, int]  # (table, Kafka partition)


@dataclass
class _Growth:
    """Polls at which one (table, partition)'s highest visible offset grew."""

    before: list[float] = field(default_factory=list)  # the previous poll's snapshot time
    at: list[float] = field(default_factory=list)  # the snapshot that showed the new highest
    highest: list[int] = field(default_factory=list)


class VisibilityLog:
    """The polls' observations: for each poll, its snapshot time and the highest offset then
    visible per (table, partition). Pure: times are given, nothing is read."""

    def __init__(self, started: float) -> None:
        self._last = started  # the snapshot before the first poll: the watcher's start
        self._snapshots: list[float] = []
        self._growth: dict[Key, _Growth] = {}

    def observe(self, sent: float, received: float, highest: dict[Key, int]) -> None:
        """Poll sent at ``sent``, answered at ``received`` (epoch seconds): the highest offset
        visible per key (keys whose offset did not grow may be left out)."""
        snapshot = (sent + received) / 2
        for key, offset in highest.items():
            growth = self._growth.setdefault(key, _Growth())
            if not growth.highest or offset > growth.highest[-1]:
                growth.before.append(self._last)
                growth.at.append(snapshot)
                growth.highest.append(offset)
        self._snapshots.append(snapshot)
        self._last = snapshot

    @property
    def gaps(self) -> npt.NDArray[np.float64]:
        """Seconds between consecutive snapshots: the resolution of a visible time is ± half."""
        return np.diff(np.asarray(self._snapshots, dtype=np.float64))

    def highest(self, key: Key) -> int:
        """The highest offset seen visible for ``key``; -1 when none."""
        growth = self._growth.get(key)
        return growth.highest[-1] if growth and growth.highest else -1

    def visible_at(
        self, table: str, partitions: npt.ArrayLike, offsets: npt.ArrayLike
    ) -> npt.NDArray[np.float64]:
        """Per row (its Kafka partition and offset) of ``table``: when it became visible (epoch
        seconds, the midpoint estimate above); NaN for a row no poll showed."""
        parts = np.asarray(partitions, dtype=np.int64)
        offs = np.asarray(offsets, dtype=np.int64)
        out = np.full(offs.shape, np.nan, dtype=np.float64)
        for partition in np.unique(parts):
            growth = self._growth.get((table, int(partition)))
            if growth is None:
                continue
            rows = parts == partition
            index = np.searchsorted(np.asarray(growth.highest), offs[rows], side="left")
            seen = index < len(growth.highest)
            middle = (np.asarray(growth.before) + np.asarray(growth.at)) / 2
            out[np.flatnonzero(rows)[seen]] = middle[index[seen]]
        return out


class PartWatcher:
    """A thread polling ``database``'s ``tables`` every ``period_s`` into :attr:`log` (module
    docstring). ``client`` must be used by this thread only. Stop with :meth:`stop`, which
    re-raises an error the thread met."""

    def __init__(
        self, client: Client, database: str, tables: Sequence[str], period_s: float
    ) -> None:
        self._client = client
        self._database = database
        self._tables = list(tables)
        self._period_s = period_s
        self._seen: set[tuple[str, str]] = set()
        self._blocks: dict[str, set[int]] = {t: set() for t in tables}  # block numbers seen
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.log = VisibilityLog(time.time())
        self.polls = 0
        self.vanished = 0  # new parts gone (merged) before their offsets were read
        self._thread = threading.Thread(target=self._run, name="part-watcher", daemon=True)

    def start(self) -> PartWatcher:
        self.log = VisibilityLog(time.time())
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current poll; raises what the thread raised, if anything."""
        self._stop.set()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        next_at = time.monotonic()
        try:
            while not self._stop.is_set():
                self.poll()
                # a late poll is not followed by a burst of catch-up polls
                next_at = max(next_at + self._period_s, time.monotonic())
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        except BaseException as exc:  # handed to the caller by stop()
            self._error = exc

    def poll(self) -> None:
        """One poll: the active parts, then the offsets of the new ones."""
        sent = time.time()
        listed = self._client.query(
            PARTS_SQL, parameters={"db": self._database, "tables": self._tables}
        ).result_rows
        received = time.time()
        new = [row for row in listed if (row[0], row[1]) not in self._seen]
        self._seen.update((str(row[0]), str(row[1])) for row in new)
        unread = [(str(t), str(n)) for t, n, *blocks in new if self._adds_blocks(str(t), *blocks)]
        self.log.observe(sent, received, self._highest(unread))
        self.polls += 1

    def _adds_blocks(self, table: str, level: int, first: int, last: int) -> bool:
        """Whether a part holds a block not seen before (a merged part of seen parts: no)."""
        seen = self._blocks[table]
        if level > 0 and all(b in seen for b in range(first, last + 1)):
            return False
        seen.update(range(first, last + 1))
        return True

    def _highest(self, new: list[tuple[str, str]]) -> dict[Key, int]:
        highest: dict[Key, int] = {}
        for table in {t for t, _ in new}:
            names = [n for t, n in new if t == table]
            rows = self._client.query(
                MAXIMA_SQL.format(table=f"{self._database}.{table}"),
                parameters={"parts": names},
            ).result_rows
            self.vanished += len(set(names) - {str(r[0]) for r in rows})
            for _, partition, offset in rows:
                key = (table, int(partition))
                highest[key] = max(int(offset), highest.get(key, -1))
        return highest
