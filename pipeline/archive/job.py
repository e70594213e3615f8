"""``tickwatch archive run``: archive and verify every closed day, then apply retention.

A day is closed once it is over in UTC (before today by the injected clock). Each (table, day)
is independent: one that fails is reported and the others go on; running again resumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError
from loguru import logger

from pipeline.archive.errors import ArchiveError, ArchiveUnavailable
from pipeline.archive.export import DayArchive
from pipeline.archive.manifest import Manifest, Piece
from pipeline.archive.retention import Dropped, Retention, hot_days
from pipeline.archive.store import ObjectStore
from pipeline.archive.tables import TABLES, ArchivedTable
from tickwatch.clock import WallClock


@dataclass
class RunReport:
    """What one run did: verified pieces, failures (table, day, error) and dropped days."""

    verified: list[Piece] = field(default_factory=list)
    failed: list[tuple[str, date, str]] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)


@dataclass(frozen=True)
class ArchiveJob:
    """Everything a run needs, built once by the CLI (or a test)."""

    client: Client
    store: ObjectStore
    market_database: str
    ops_database: str
    keep_days: int
    restore_hold_days: int
    clock: WallClock

    @property
    def manifest(self) -> Manifest:
        return Manifest(self.client, self.ops_database)

    @property
    def day_archive(self) -> DayArchive:
        return DayArchive(self.client, self.store, self.market_database, self.manifest, self.clock)

    def retention(self) -> Retention:
        return Retention(
            self.client, self.market_database, self.manifest, self.day_archive,
            keep_days=self.keep_days, restore_hold_days=self.restore_hold_days, clock=self.clock,
        )  # fmt: skip

    def closed_days(self, spec: ArchivedTable) -> list[date]:
        """Days of ``spec``'s hot table before today (UTC); raises ArchiveUnavailable."""
        today = datetime.fromtimestamp(self.clock.time(), UTC).date()
        try:
            days = hot_days(self.client, self.market_database, spec.hot_table)
        except (ClickHouseError, OSError) as exc:
            raise ArchiveUnavailable(f"{spec.name}: listing its days failed: {exc}") from exc
        return [d for d in days if d < today]

    def run(self, tables: list[ArchivedTable] | None = None, *, retain: bool = True) -> RunReport:
        """Archive + verify every closed day of ``tables`` (all by default), then retention."""
        report = RunReport()
        specs = tables or list(TABLES.values())
        archive = self.day_archive
        for spec in specs:
            for day in self.closed_days(spec):
                try:
                    report.verified.append(archive.archive(spec, day))
                except ArchiveError as exc:
                    logger.error("archive {} {} failed: {}", spec.name, day, exc)
                    report.failed.append((spec.name, day, str(exc)))
        if retain:
            report.dropped = self.retention().run(specs)
        return report

    def verify(self, tables: list[ArchivedTable] | None = None) -> RunReport:
        """Read every archived piece back again and record the outcome."""
        report = RunReport()
        archive = self.day_archive
        for spec in tables or list(TABLES.values()):
            for piece in self.manifest.pieces(spec.name):
                try:
                    report.verified.append(archive.verify(spec, piece))
                except ArchiveError as exc:
                    report.failed.append((spec.name, piece.day, str(exc)))
        return report
