"""Put archived days back into the hot tables, exactly once.

:meth:`Restorer.restore_day`, in order:

1. the day's piece must be ``verified`` (else :class:`ArchiveConfigError`);
2. the hot day already equals the archive (rows and checksum): nothing is inserted;
3. for trades, the candle states of that day must be empty: the materialized views rebuild the
   candles from the restored trades, so candles still present would be counted twice;
4. ``INSERT ... SELECT FROM s3(...)`` with ``insert_deduplication_token`` =
   ``archive-restore:<table>:<day>:<number of drops so far>`` (one thread, so the blocks form the
   same way each time; dependent views deduplicate too). A restore interrupted half-way and run
   again inserts only the blocks it had not; a day dropped again later gets a new token;
5. the hot day must now equal the archive (else :class:`ArchiveMismatch`); a ``restore`` event
   holds it from retention for ``archive.restore_hold_days``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from pipeline.archive.errors import ArchiveConfigError, ArchiveMismatch, ArchiveUnavailable
from pipeline.archive.export import DayArchive
from pipeline.archive.manifest import Manifest
from pipeline.archive.store import ObjectStore
from pipeline.archive.tables import CANDLES_OF, TABLES, ArchivedTable
from tickwatch.clock import WallClock


@dataclass(frozen=True)
class Restored:
    table: str
    day: date
    rows: int
    inserted: bool


class Restorer:
    """Restores days of one table from the archive."""

    def __init__(
        self,
        client: Client,
        store: ObjectStore,
        market_database: str,
        manifest: Manifest,
        archive: DayArchive,
        *,
        clock: WallClock,
    ) -> None:
        self._client, self._store, self._db = client, store, market_database
        self._manifest, self._archive, self._clock = manifest, archive, clock

    def restore_range(self, spec: ArchivedTable, first: date, last: date) -> list[Restored]:
        """Restore every archived day from ``first`` to ``last`` (inclusive)."""
        if not spec.restorable:
            raise ArchiveConfigError(
                f"{spec.name} is not restored on its own: restore trades and the materialized "
                "views rebuild the candles"
            )
        if last < first:
            raise ArchiveConfigError(f"restore range {first}..{last}: --to is before --from")
        days = {p.day for p in self._manifest.pieces(spec.name, "verified")}
        return [self.restore_day(spec, d) for d in _days(first, last) if d in days]

    def restore_day(self, spec: ArchivedTable, day: date) -> Restored:
        """Restore one day (see the module docstring for the order and the guarantees)."""
        piece = self._manifest.piece(spec.name, day)
        if piece is None or piece.status != "verified":
            raise ArchiveConfigError(f"{spec.name} {day}: no verified archive to restore from")
        if piece.matches(self._archive.hot_stats(spec, day)):
            return Restored(spec.name, day, piece.stats.rows, inserted=False)
        self._refuse_double_candles(spec, day)
        drops = self._manifest.count_events(spec.name, day, "drop")
        token = f"archive-restore:{spec.name}:{day}:{drops}"
        self._insert(spec, piece.object_key, token)
        after = self._archive.hot_stats(spec, day)
        if not piece.matches(after):
            raise ArchiveMismatch(
                f"{spec.name} {day}: after restore the hot table has {after.rows} rows, the "
                f"archive {piece.stats.rows}; the day holds rows that are not in the archive"
            )
        now = datetime.fromtimestamp(self._clock.time(), UTC)
        self._manifest.event(
            spec.name, day, "restore", after.rows, now=now, detail=piece.object_key
        )
        return Restored(spec.name, day, after.rows, inserted=True)

    def _refuse_double_candles(self, spec: ArchivedTable, day: date) -> None:
        for name in CANDLES_OF.get(spec.name, ()):
            if self._archive.hot_stats(TABLES[name], day).rows:
                raise ArchiveConfigError(
                    f"{spec.name} {day}: {name} still has that day in the hot tables; restoring "
                    f"{spec.name} would count its candles twice (let retention drop {name} first)"
                )

    def _insert(self, spec: ArchivedTable, key: str, token: str) -> None:
        structure = self._archive.structure(spec)
        columns = ", ".join(name for name, _ in self._archive.columns(spec))
        sql = (
            f"INSERT INTO {self._db}.{spec.hot_table} ({columns}) "
            f"SELECT {columns} FROM {self._store.s3_function('url', 'structure')}"
        )
        settings = {
            "insert_deduplication_token": token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            "max_threads": 1,
            "max_insert_threads": 1,
        }
        params = {"url": self._store.url(key), "structure": structure, **self._store.parameters()}
        try:
            self._client.command(sql, parameters=params, settings=settings)
        except ClickHouseError as exc:
            raise ArchiveUnavailable(f"{spec.name}: restoring {key} failed: {exc}") from exc


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
