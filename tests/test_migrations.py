"""Migrations: file discovery rules (unit) and apply/record/re-run on the real ClickHouse."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from tickwatch import migrations
from tickwatch.settings import ClickHouseSettings


def test_discover_orders_by_version(tmp_path: Path) -> None:
    (tmp_path / "0002_b.sql").write_text("SELECT 2")
    (tmp_path / "0001_a.sql").write_text("SELECT 1")
    assert [m.version for m in migrations.discover(tmp_path)] == ["0001", "0002"]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["1_a.sql"], "name must look like"),
        (["0001_a.sql", "0001_b.sql"], "version 0001 also used"),
    ],
)
def test_discover_rejects_bad_files(tmp_path: Path, names: list[str], message: str) -> None:
    for name in names:
        (tmp_path / name).write_text("SELECT 1")
    with pytest.raises(migrations.MigrationError, match=message):
        migrations.discover(tmp_path)


def test_statements_substitute_placeholders_and_strip_comments(tmp_path: Path) -> None:
    path = tmp_path / "0001_x.sql"
    path.write_text(
        "-- a comment; with a semicolon\nCREATE DATABASE {market};\nSELECT {ops_ttl_days};\n"
    )
    settings = ClickHouseSettings(market_database="mk", ops_ttl_days=3)
    stmts = migrations.Migration("0001", path).statements(settings)
    assert stmts == ["CREATE DATABASE mk", "SELECT 3"]


def test_project_migrations_are_well_formed() -> None:
    found = migrations.discover()
    assert [m.version for m in found][:6] == ["0001", "0002", "0003", "0004", "0005", "0006"]


@pytest.fixture
def fresh_ch(ch_client: Client) -> Iterator[ClickHouseSettings]:
    suffix = uuid.uuid4().hex[:8]
    settings = ClickHouseSettings(market_database=f"mig_m_{suffix}", ops_database=f"mig_o_{suffix}")
    yield settings
    for db in (settings.market_database, settings.ops_database):
        ch_client.command(f"DROP DATABASE IF EXISTS {db}")


@pytest.mark.clickhouse
def test_apply_twice_applies_once(ch_client: Client, fresh_ch: ClickHouseSettings) -> None:
    first = migrations.apply(ch_client, fresh_ch)
    second = migrations.apply(ch_client, fresh_ch)
    assert first == [m.version for m in migrations.discover()]
    assert second == []
    tables = {
        r[0] for r in ch_client.query(f"SHOW TABLES FROM {fresh_ch.market_database}").result_rows
    }
    assert {"trades", "quotes", "bars", "candles_1s", "candles_1m"} <= tables
    assert all(applied for _, _, applied in migrations.status(ch_client, fresh_ch))


@pytest.mark.clickhouse
def test_failed_statement_names_the_file(
    ch_client: Client, fresh_ch: ClickHouseSettings, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE DATABASE IF NOT EXISTS {market};\n")
    (tmp_path / "0002_broken.sql").write_text(
        "CREATE TABLE {market}.t (a NoSuchType) ENGINE = Memory;\n"
    )
    with pytest.raises(migrations.MigrationError, match=r"0002_broken\.sql"):
        migrations.apply(ch_client, fresh_ch, tmp_path)
    # the good one is recorded, the broken one is not: fixing the file and re-running resumes
    assert [v for v, _, done in migrations.status(ch_client, fresh_ch, tmp_path) if done] == [
        "0001"
    ]
