"""Hot-table retention that never drops unarchived data.

The hot tables' own TTLs are off (migration 0013): a TTL deletes a day whether or not it was
archived. Instead :meth:`Retention.run` drops a day partition of a hot table only when all hold:

* the day is older than ``keep_days`` (``clickhouse.ticks_ttl_days``);
* its archive piece is ``verified`` (read back from the object store, rows and checksum equal);
* the hot day *still* has exactly those rows and that checksum (a late row since the archive
  keeps the day, and the next ``archive run`` re-archives it);
* neither it nor the table it is derived from (trades, for the candles) was restored within
  ``restore_hold_days``.

Why the check-then-drop is safe: the live path cannot write into such a day any more (the load
worker rejects events older than ``load.max_past_s``, 7 days by default, and ``keep_days``
must be larger); the only other writer is ``archive restore``, which refuses days in the hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from clickhouse_connect.driver.client import Client
from loguru import logger

from pipeline.archive.export import DayArchive
from pipeline.archive.manifest import Manifest
from pipeline.archive.tables import DERIVED_FROM, TABLES, ArchivedTable
from tickwatch.clock import WallClock


@dataclass(frozen=True)
class Dropped:
    table: str
    day: date
    rows: int


class Retention:
    """Drops verified days older than ``keep_days`` from the hot tables."""

    def __init__(
        self,
        client: Client,
        market_database: str,
        manifest: Manifest,
        archive: DayArchive,
        *,
        keep_days: int,
        restore_hold_days: int,
        clock: WallClock,
    ) -> None:
        self._client, self._db, self._manifest, self._archive = (
            client, market_database, manifest, archive,
        )  # fmt: skip
        self._keep, self._hold, self._clock = keep_days, restore_hold_days, clock

    def run(self, tables: list[ArchivedTable] | None = None) -> list[Dropped]:
        """Drop every droppable day; return what was dropped. Kept days are logged with why."""
        today = datetime.fromtimestamp(self._clock.time(), UTC).date()
        cutoff = today - timedelta(days=self._keep)
        dropped: list[Dropped] = []
        for spec in tables or list(TABLES.values()):
            for day in hot_days(self._client, self._db, spec.hot_table):
                if day < cutoff and (rows := self._droppable(spec, day)) is not None:
                    self._drop(spec, day, rows)
                    dropped.append(Dropped(spec.name, day, rows))
        return dropped

    def _droppable(self, spec: ArchivedTable, day: date) -> int | None:
        """The hot row count if ``day`` may be dropped, else None (and why, in the log)."""
        piece = self._manifest.piece(spec.name, day)
        if piece is None or piece.status != "verified":
            logger.warning("retention keeps {} {}: archive not verified", spec.name, day)
            return None
        hot = self._archive.hot_stats(spec, day)
        if not piece.matches(hot):
            logger.warning(
                "retention keeps {} {}: {} hot rows differ from the {} archived; re-archive it",
                spec.name, day, hot.rows, piece.stats.rows,
            )  # fmt: skip
            return None
        now = datetime.fromtimestamp(self._clock.time(), UTC)
        for restored_table in (spec.name, DERIVED_FROM.get(spec.name, spec.name)):
            restored = self._manifest.last_event_time(restored_table, day, "restore")
            if restored is not None and now - _utc(restored) < timedelta(days=self._hold):
                logger.info("retention keeps {} {}: {} restored at {}", spec.name, day,
                            restored_table, restored)  # fmt: skip
                return None
        return hot.rows

    def _drop(self, spec: ArchivedTable, day: date, rows: int) -> None:
        # the partition id of PARTITION BY toDate(...) is YYYYMMDD, formatted from a date
        self._client.command(
            f"ALTER TABLE {self._db}.{spec.hot_table} DROP PARTITION ID '{day:%Y%m%d}'"
        )
        now = datetime.fromtimestamp(self._clock.time(), UTC)
        self._manifest.event(spec.name, day, "drop", rows, now=now, detail=spec.hot_table)
        logger.info("retention dropped {} {} ({} rows, archive verified)", spec.name, day, rows)


def hot_days(client: Client, database: str, table: str) -> list[date]:
    """The days that have active parts in ``database.table`` (partitioned by day), ascending."""
    rows = client.query(
        "SELECT DISTINCT partition FROM system.parts WHERE database = {db:String} "
        "AND table = {table:String} AND active ORDER BY partition",
        parameters={"db": database, "table": table},
    ).result_rows
    return [date.fromisoformat(str(r[0]).strip("'")) for r in rows]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
