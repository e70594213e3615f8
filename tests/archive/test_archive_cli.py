"""``tickwatch archive run|verify|restore|views`` on the real ClickHouse and S3 server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from clickhouse_connect.driver.client import Client
from typer.testing import CliRunner

from pipeline.archive.cli import archive_app
from tests.archive.sim_day import load_sim_day
from tickwatch.settings import ArchiveSettings, ClickHouseSettings, Settings, StackSettings


def app_for(tmp_path: Path, ch: ClickHouseSettings, archive: ArchiveSettings) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = Settings(
            _env_file=None, stack=StackSettings(state_dir=tmp_path), clickhouse=ch, archive=archive
        )

    app.add_typer(archive_app, name="archive")
    return app


@pytest.mark.clickhouse
@pytest.mark.s3
def test_run_verify_views_restore(
    tmp_path: Path,
    ch_client: Client,
    ch_settings: ClickHouseSettings,
    archive_settings: ArchiveSettings,
) -> None:
    yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    loaded = load_sim_day(ch_client, yesterday, 300, rate=5.0)
    runner, app = CliRunner(), app_for(tmp_path, ch_settings, archive_settings)

    ran = runner.invoke(app, ["archive", "run", "--table", "trades"])
    assert ran.exit_code == 0, ran.output
    assert f"verified trades {yesterday.date()}: {loaded['trades']} rows" in ran.output
    assert "dropped" not in ran.output  # yesterday is within retention

    checked = runner.invoke(app, ["archive", "verify", "--table", "trades"])
    assert checked.exit_code == 0 and "verified trades" in checked.output
    assert runner.invoke(app, ["archive", "views"]).exit_code == 0

    day = str(yesterday.date())
    again = runner.invoke(app, ["archive", "restore", "-t", "trades", "--from", day, "--to", day])
    assert again.exit_code == 0, again.output
    assert f"already in the hot table: trades {day} ({loaded['trades']} rows)" in again.output


def test_bad_requests_exit_2_naming_what(tmp_path: Path, isolated_env: Path) -> None:
    archive = ArchiveSettings(endpoint="http://127.0.0.1:1", bucket="some-bucket")
    ch = ClickHouseSettings(url="http://127.0.0.1:1")
    runner, app = CliRunner(), app_for(tmp_path, ch, archive)
    bad_day = runner.invoke(app, ["archive", "restore", "-t", "trades", "--from", "2026-13-01",
                                  "--to", "2026-12-01"])  # fmt: skip
    assert bad_day.exit_code == 2 and "--from '2026-13-01'" in bad_day.output
    candles = runner.invoke(app, ["archive", "run", "--table", "candles_5m"])
    assert candles.exit_code == 2 and "unknown archive table 'candles_5m'" in candles.output
    no_endpoint = app_for(tmp_path, ch, ArchiveSettings())
    missing = runner.invoke(no_endpoint, ["archive", "run"])
    assert missing.exit_code == 2 and "TICKWATCH_ARCHIVE_ENDPOINT" in missing.output


def test_unreachable_clickhouse_exits_1_naming_it(tmp_path: Path, isolated_env: Path) -> None:
    archive = ArchiveSettings(endpoint="http://127.0.0.1:1", bucket="some-bucket")
    ch = ClickHouseSettings(url="http://127.0.0.1:1", connect_timeout_s=1.0)
    ran = CliRunner().invoke(app_for(tmp_path, ch, archive), ["archive", "run"])
    assert ran.exit_code == 1 and "ClickHouse at http://127.0.0.1:1 is not reachable" in ran.output
