"""Archive one day of one table, and verify it by reading the object back.

:meth:`DayArchive.archive` is idempotent and resumable. Order of operations:

1. measure the hot day (rows, time range, checksum);
2. a piece already ``verified`` with the same rows and checksum: done, nothing written;
3. otherwise, unless a piece ``exported`` with the same figures exists (a run stopped before
   verifying), ClickHouse writes the object (``INSERT INTO FUNCTION s3``, overwriting) and the
   manifest records ``exported``;
4. ClickHouse reads the object back; same rows and checksum -> ``verified``, else ``mismatch``
   (and :class:`ArchiveMismatch`). Only ``verified`` days are ever dropped from the hot tables.

The checksum is ``sum(cityHash64(tuple(all columns)))`` modulo 2^64: independent of row order,
changed by any altered, missing or duplicated row; the tuple keeps NULLs hashable (the candle
views' OHLC is NULL for a bucket no eligible trade set). The read-back uses the hot table's own
column types (the ``structure`` argument), so both sides hash the same values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from pipeline.archive.errors import ArchiveMismatch, ArchiveUnavailable
from pipeline.archive.manifest import Action, DayStats, Manifest, Piece, Status
from pipeline.archive.store import ObjectStore
from pipeline.archive.tables import ArchivedTable
from tickwatch.clock import WallClock

WRITE_SETTINGS = {
    "s3_truncate_on_insert": 1,
    "output_format_parquet_compression_method": "zstd",
}


class DayArchive:
    """Archives and verifies days of the market database's tables into ``store``."""

    def __init__(
        self,
        client: Client,
        store: ObjectStore,
        market_database: str,
        manifest: Manifest,
        clock: WallClock,
    ) -> None:
        self._client, self._store, self._db = client, store, market_database
        self._manifest, self._clock = manifest, clock

    def archive(self, spec: ArchivedTable, day: date) -> Piece:
        """Archive and verify ``spec``'s ``day``; raises ArchiveMismatch / ArchiveUnavailable."""
        hot = self.hot_stats(spec, day)
        existing = self._manifest.piece(spec.name, day)
        if existing is not None and existing.status == "verified" and existing.matches(hot):
            return existing
        if existing is None or existing.status != "exported" or not existing.matches(hot):
            existing = self._export(spec, day, hot)
        return self.verify(spec, existing)

    def verify(self, spec: ArchivedTable, piece: Piece) -> Piece:
        """Read ``piece``'s object back; record and return it ``verified`` or raise."""
        back, size = self._object_stats(spec, piece.object_key)
        ok = piece.matches(back)
        detail = "" if ok else f"read back {back.rows} rows / checksum {back.checksum}"
        status: Status = "verified" if ok else "mismatch"
        checked = Piece(spec.name, piece.day, piece.object_key, piece.stats, size, status, detail)
        self._manifest.record(checked, self._now())
        action: Action = "verify" if ok else "mismatch"
        self._manifest.event(
            spec.name, piece.day, action, back.rows, now=self._now(), detail=detail
        )
        if not ok:
            raise ArchiveMismatch(
                f"{spec.name} {piece.day}: object {piece.object_key} has {back.rows} rows "
                f"(checksum {back.checksum}); the manifest expects {piece.stats.rows} "
                f"(checksum {piece.stats.checksum})"
            )
        return checked

    def hot_stats(self, spec: ArchivedTable, day: date) -> DayStats:
        """Rows, time range and checksum of ``day`` in the hot data."""
        sql = (
            f"SELECT {self._stats_columns(spec)} FROM {self._db}.{spec.source} "
            f"WHERE {spec.day_filter()}"
        )
        return _stats(self._query(sql, {"day": day}, spec, day)[0])

    def structure(self, spec: ArchivedTable) -> str:
        """``name type, ...`` of ``spec.source``, as the ``s3()`` structure argument."""
        return ", ".join(f"{name} {kind}" for name, kind in self.columns(spec))

    def columns(self, spec: ArchivedTable) -> list[tuple[str, str]]:
        """``(`name`, type)`` of ``spec.source``'s columns, in table order."""
        rows = self._query(
            "SELECT name, type FROM system.columns WHERE database = {db:String} "
            "AND table = {table:String} ORDER BY position",
            {"db": self._db, "table": spec.source},
            spec,
            None,
        )
        return [(f"`{name}`", str(kind)) for name, kind in rows]

    def _export(self, spec: ArchivedTable, day: date, hot: DayStats) -> Piece:
        key = self._store.key(spec.name, day)
        order = ", ".join(spec.order_by)
        cols = ", ".join(name for name, _ in self.columns(spec))
        sql = (
            f"INSERT INTO FUNCTION {self._store.s3_function('url', 'structure')} "
            f"SELECT {cols} FROM {self._db}.{spec.source} "
            f"WHERE {spec.day_filter()} ORDER BY {order}"
        )
        params = {"url": self._store.url(key), "structure": self.structure(spec), "day": day}
        self._command(sql, params, spec, day)
        piece = Piece(spec.name, day, key, hot, 0, "exported")
        self._manifest.record(piece, self._now())
        self._manifest.event(spec.name, day, "export", hot.rows, now=self._now(), detail=key)
        return piece

    def _object_stats(self, spec: ArchivedTable, key: str) -> tuple[DayStats, int]:
        sql = (
            f"SELECT {self._stats_columns(spec)}, any(_size) "
            f"FROM {self._store.s3_function('url', 'structure')}"
        )
        params = {"url": self._store.url(key), "structure": self.structure(spec)}
        row = self._query(sql, params, spec, None)[0]
        return _stats(row[:4]), int(row[4] or 0)

    def _stats_columns(self, spec: ArchivedTable) -> str:
        # named columns, not *: a reader may add the Hive ``date`` column to *
        names = ", ".join(name for name, _ in self.columns(spec))
        t = spec.time_column
        return f"count(), min({t}), max({t}), sum(cityHash64(tuple({names})))"

    def _query(
        self, sql: str, params: dict[str, Any], spec: ArchivedTable, day: date | None
    ) -> Sequence[Sequence[Any]]:
        try:
            return self._client.query(
                sql, parameters={**params, **self._store.parameters()}
            ).result_rows
        except ClickHouseError as exc:
            raise ArchiveUnavailable(f"{spec.name} {day or ''}: {exc}") from exc

    def _command(self, sql: str, params: dict[str, Any], spec: ArchivedTable, day: date) -> None:
        try:
            self._client.command(
                sql, parameters={**params, **self._store.parameters()}, settings=WRITE_SETTINGS
            )
        except ClickHouseError as exc:
            raise ArchiveUnavailable(
                f"{spec.name} {day}: writing the archive failed: {exc}"
            ) from exc

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), UTC)


def _stats(row: Sequence[Any]) -> DayStats:
    rows, lo, hi, checksum = row
    return DayStats(int(rows), _utc(lo), _utc(hi), int(checksum))


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(1970, 1, 1, tzinfo=UTC)
