"""Archive credentials never appear in errors, logs or the stored views."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from clickhouse_connect.driver.client import Client
from loguru import logger
from pydantic import SecretStr

from pipeline.archive.errors import ArchiveError
from pipeline.archive.job import ArchiveJob
from pipeline.archive.manifest import DayStats, Piece
from pipeline.archive.store import object_store
from pipeline.archive.tables import table
from pipeline.archive.views import create_views
from tests.archive.sim_day import load_sim_day
from tickwatch.clock import ManualClock
from tickwatch.settings import ArchiveSettings, ClickHouseSettings

KEY, SECRET = "AKIAS3CRETKEYID0001", "S3cret-archive-9f8e7d6c5b4a"


@pytest.mark.clickhouse
@pytest.mark.s3
def test_credentials_stay_out_of_errors_logs_and_views(
    ch_client: Client, ch_settings: ClickHouseSettings, archive_settings: ArchiveSettings
) -> None:
    load_sim_day(ch_client, datetime(2026, 11, 2, tzinfo=UTC), 300, rate=5.0)
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    try:
        for bucket, name in ((archive_settings.bucket, "trades"), ("no-such-bucket", "quotes")):
            settings = archive_settings.model_copy(
                update={"bucket": bucket, "access_key_id": SecretStr(KEY),
                        "secret_access_key": SecretStr(SECRET)}
            )  # fmt: skip
            store = object_store(settings, settings.endpoint)
            job = ArchiveJob(
                ch_client, store, ch_settings.market_database, ch_settings.ops_database,
                keep_days=30, restore_hold_days=7, clock=ManualClock(1_794_000_000.0),
            )  # fmt: skip
            report = job.run([table(name)])
            seen = [str(p) for p in report.verified] + [e for *_, e in report.failed]
            if bucket == "no-such-bucket":
                assert report.failed, "writing to a missing bucket must fail"
                with pytest.raises(ArchiveError) as caught:
                    job.day_archive.verify(table("trades"), _piece(job))
                seen.append(str(caught.value))
            views = create_views(ch_client, store, ch_settings.market_database, job.day_archive)
            seen += [str(ch_client.command(f"SHOW CREATE TABLE {v}")) for v in views]
            seen += [repr(store), repr(settings)]
            assert not [s for s in seen + lines if KEY in s or SECRET in s]
    finally:
        logger.remove(sink)


def _piece(job: ArchiveJob) -> Piece:
    stats = DayStats(1, datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC), 1)
    return Piece("trades", date(2026, 11, 2), job.store.key("trades", date(2026, 11, 2)), stats,
                 0, "exported")  # fmt: skip
