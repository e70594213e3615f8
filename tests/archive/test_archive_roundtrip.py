"""The archive on the real components: ClickHouse (chdb-core server) and an S3 server (gofakes3).

A day of simulator data is archived to the S3 server, verified, dropped from the hot tables by
retention, read from the archive views, and restored exactly once; counts equal at every step.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from pipeline.archive.job import ArchiveJob
from pipeline.archive.restore import Restorer
from pipeline.archive.store import object_store
from pipeline.archive.tables import TABLES, table
from pipeline.archive.views import create_views
from tests.archive.sim_day import load_sim_day
from tickwatch.clock import ManualClock
from tickwatch.settings import ArchiveSettings, ClickHouseSettings

pytestmark = [pytest.mark.clickhouse, pytest.mark.s3]

DAY = date(2026, 11, 2)
NEXT = DAY + timedelta(days=1)


def _job(
    client: Client, ch: ClickHouseSettings, archive: ArchiveSettings, clock: ManualClock
) -> ArchiveJob:
    store = object_store(archive, archive.endpoint)
    return ArchiveJob(
        client, store, ch.market_database, ch.ops_database,
        keep_days=30, restore_hold_days=7, clock=clock,
    )  # fmt: skip


def _count(client: Client, source: str, column: str, day: date) -> int:
    sql = f"SELECT count() FROM {source} WHERE toDate({column}) = {{day:Date}}"
    return int(client.query(sql, parameters={"day": day}).result_rows[0][0])


def _hot_counts(client: Client, db: str, day: date) -> dict[str, int]:
    return {n: _count(client, f"{db}.{t.source}", t.time_column, day) for n, t in TABLES.items()}


def _at(day: date, hour: int) -> float:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp()


def test_day_archived_verified_dropped_queried_restored(
    ch_client: Client, ch_settings: ClickHouseSettings, archive_settings: ArchiveSettings
) -> None:
    db = ch_settings.market_database
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    loaded = load_sim_day(ch_client, start, 86_400, rate=1.0)
    load_sim_day(ch_client, start + timedelta(days=1), 3_600, rate=1.0)  # the open day
    before = _hot_counts(ch_client, db, DAY)
    assert before["trades"] == loaded["trades"] > 10_000
    assert min(before.values()) > 0

    clock = ManualClock(_at(NEXT, 12))
    job = _job(ch_client, ch_settings, archive_settings, clock)
    report = job.run()
    assert report.failed == [] and report.dropped == []
    archived = {p.table: p for p in report.verified}
    assert {p.day for p in report.verified} == {DAY}  # the open day is not archived
    assert {n: p.stats.rows for n, p in archived.items()} == before
    assert all(p.status == "verified" and p.bytes > 0 for p in archived.values())
    assert archived["trades"].object_key.endswith(f"trades/date={DAY}/part-0.parquet")

    assert job.run().verified == report.verified  # idempotent: nothing exported again
    assert job.manifest.count_events("trades", DAY, "export") == 1

    clock.set(_at(DAY + timedelta(days=40), 3))
    dropped = job.run().dropped
    assert {(d.table, d.day) for d in dropped} >= {(n, DAY) for n in TABLES}
    assert {d.table: d.rows for d in dropped if d.day == DAY} == before
    assert _hot_counts(ch_client, db, DAY) == dict.fromkeys(TABLES, 0)

    create_views(ch_client, job.store, db, job.day_archive)
    from_archive = {
        n: _count(ch_client, f"{db}.archive_{n}", t.time_column, DAY) for n, t in TABLES.items()
    }
    assert from_archive == before

    restorer = Restorer(ch_client, job.store, db, job.manifest, job.day_archive, clock=clock)
    for name in ("trades", "quotes", "bars"):
        (done,) = restorer.restore_range(table(name), DAY, DAY)
        assert done.inserted and done.rows == before[name]
    assert _hot_counts(ch_client, db, DAY) == before  # candles rebuilt from the restored trades

    again = restorer.restore_range(table("trades"), DAY - timedelta(days=3), DAY)
    assert [(r.day, r.inserted) for r in again] == [(DAY, False)]  # exactly once
    assert _hot_counts(ch_client, db, DAY) == before

    assert not [d for d in job.run().dropped if d.day == DAY]  # held after a restore


def test_retention_keeps_a_day_that_changed_after_its_archive(
    ch_client: Client, ch_settings: ClickHouseSettings, archive_settings: ArchiveSettings
) -> None:
    db = ch_settings.market_database
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    load_sim_day(ch_client, start, 600, rate=5.0)
    clock = ManualClock(_at(NEXT, 1))
    job = _job(ch_client, ch_settings, archive_settings, clock)
    trades = [table("trades")]
    assert job.run(trades).failed == []
    late = start + timedelta(hours=3)
    ch_client.command(
        f"INSERT INTO {db}.trades (symbol, asset_class, event_time, price, size, source) "
        "VALUES ('LATE', 'equity', {t:DateTime64(6, 'UTC')}, 1.0, 1.0, 'simulator')",
        parameters={"t": late},
    )
    clock.set(_at(DAY + timedelta(days=40), 1))
    assert job.retention().run(trades) == []  # hot day no longer equals its archive: kept
    rows = _count(ch_client, f"{db}.trades", "event_time", DAY)
    assert job.run(trades).dropped[0].rows == rows  # re-archived, verified, then dropped


def test_a_run_stopped_after_export_resumes_with_verification_only(
    ch_client: Client, ch_settings: ClickHouseSettings, archive_settings: ArchiveSettings
) -> None:
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    load_sim_day(ch_client, start, 600, rate=5.0)
    clock = ManualClock(_at(NEXT, 1))
    job = _job(ch_client, ch_settings, archive_settings, clock)
    quotes = table("quotes")
    archive = job.day_archive
    exported = archive._export(quotes, DAY, archive.hot_stats(quotes, DAY))  # then "killed"
    assert job.manifest.piece("quotes", DAY) == exported  # status exported, not verified
    (piece,) = job.run([quotes]).verified
    assert piece.status == "verified" and piece.stats == exported.stats
    assert job.manifest.count_events("quotes", DAY, "export") == 1  # not written again


def test_a_corrupted_object_is_a_mismatch_and_never_dropped(
    ch_client: Client, ch_settings: ClickHouseSettings, archive_settings: ArchiveSettings
) -> None:
    db = ch_settings.market_database
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    load_sim_day(ch_client, start, 600, rate=5.0)
    clock = ManualClock(_at(NEXT, 1))
    job = _job(ch_client, ch_settings, archive_settings, clock)
    bars = table("bars")
    (piece,) = job.run([bars]).verified
    store = job.store
    ch_client.command(  # overwrite the object with half of the day
        f"INSERT INTO FUNCTION {store.s3_function('url', 'structure')} "
        f"SELECT * FROM {db}.bars WHERE toDate(event_time) = {{day:Date}} AND symbol < 'M'",
        parameters={"url": store.url(piece.object_key), "day": DAY,
                    "structure": job.day_archive.structure(bars)},
        settings={"s3_truncate_on_insert": 1},
    )  # fmt: skip
    report = job.verify([bars])
    assert [(t, d) for t, d, _ in report.failed] == [("bars", DAY)]
    assert "manifest expects" in report.failed[0][2]
    assert job.manifest.piece("bars", DAY).status == "mismatch"  # type: ignore[union-attr]
    clock.set(_at(DAY + timedelta(days=40), 1))
    assert job.retention().run([bars]) == []
    assert _count(ch_client, f"{db}.bars", "event_time", DAY) == piece.stats.rows
