"""The archive check: yesterday verified by the due hour, else an alert."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from monitor.checks.archive import ArchiveCheck
from monitor.errors import CheckUnavailable
from pipeline.archive.manifest import DayStats, Manifest, Piece
from tests.monitor.monitor_fakes import FakeClickHouse
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clients import clickhouse_client
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings
from tickwatch.types import Status

YESTERDAY = date(2026, 11, 2)


def _at(hour: int) -> ManualClock:
    return ManualClock(datetime(2026, 11, 3, hour, tzinfo=UTC).timestamp())


def _fake(states: dict[str, str], with_rows: set[str]) -> FakeClickHouse:
    def answer(sql: str, params: dict[str, Any]) -> list[Sequence[Any]]:
        assert params["day"] == YESTERDAY
        if "archive_manifest" in sql:
            return list(states.items())
        return [[any(f".{name} " in sql or f".{name}_state " in sql for name in with_rows)]]

    return FakeClickHouse(answer)


def _statuses(check: ArchiveCheck) -> dict[str, tuple[Status, str]]:
    return {r.target: (r.status, r.message) for r in check.run()}


def test_before_the_due_hour_only_a_mismatch_warns() -> None:
    ch = _fake({"trades": "exported", "quotes": "mismatch"}, {"trades", "quotes", "bars"})
    got = _statuses(ArchiveCheck(ch, "m", "o", due_hour_utc=6, interval_s=60, clock=_at(5)))
    assert got["trades"] == (Status.OK, "2026-11-02 exported, not verified; due by 06:00 UTC")
    assert got["quotes"][0] is Status.WARN
    assert got["bars"] == (Status.OK, "2026-11-02 not archived; due by 06:00 UTC")


def test_after_the_due_hour_unverified_days_with_rows_are_critical() -> None:
    states = {"trades": "verified", "quotes": "exported"}
    ch = _fake(states, {"trades", "quotes", "bars", "candles_1s"})
    got = _statuses(ArchiveCheck(ch, "m", "o", due_hour_utc=6, interval_s=60, clock=_at(6)))
    assert got["trades"] == (Status.OK, "2026-11-02 archived and verified")
    assert got["quotes"][0] is Status.CRIT and "by 06:00 UTC" in got["quotes"][1]
    assert got["bars"][0] is Status.CRIT and "tickwatch archive run" in got["bars"][1]
    assert got["candles_1m"] == (Status.OK, "2026-11-02: no rows to archive")


def test_unreachable_clickhouse_is_unavailable_not_critical() -> None:
    ch = _fake({}, set())
    ch.down = True
    with pytest.raises(CheckUnavailable):
        ArchiveCheck(ch, "m", "o", due_hour_utc=6, interval_s=60, clock=_at(9)).run()


@pytest.mark.clickhouse
def test_reads_the_real_manifest(ch_client: Client, ch_settings: ClickHouseSettings) -> None:
    when = datetime(2026, 11, 2, 12, tzinfo=UTC)
    ch_client.command(
        f"INSERT INTO {ch_settings.market_database}.bars (symbol, asset_class, event_time, "
        "interval_s, source) VALUES ('AAPL', 'equity', {t:DateTime64(6, 'UTC')}, 60, 'polygon')",
        parameters={"t": when},
    )
    manifest = Manifest(ch_client, ch_settings.ops_database)
    stats = DayStats(1, when, when, 7)
    manifest.record(Piece("trades", YESTERDAY, "k", stats, 10, "exported"), when)
    manifest.record(Piece("trades", YESTERDAY, "k", stats, 10, "verified"), when)
    handle = ClickHouseHandle(lambda: clickhouse_client(ch_settings, ch_settings.url))
    check = ArchiveCheck(
        handle, ch_settings.market_database, ch_settings.ops_database,
        due_hour_utc=4, interval_s=60, clock=_at(8),
    )  # fmt: skip
    got = {r.target: r.status for r in check.run()}
    assert got == {"trades": Status.OK, "quotes": Status.OK, "bars": Status.CRIT,
                   "candles_1s": Status.OK, "candles_1m": Status.OK}  # fmt: skip


def test_registered_only_when_enabled() -> None:
    from types import SimpleNamespace

    from monitor.build_checks import build_checks
    from tickwatch.settings import ArchiveSettings, Settings

    where = SimpleNamespace(kafka_bootstrap="127.0.0.1:1", clickhouse_url="http://127.0.0.1:1")
    for enabled in (False, True):
        settings = Settings(_env_file=None, archive=ArchiveSettings(check_enabled=enabled))
        names = [c.name for c in build_checks(settings, where, FakeClickHouse(), _at(1))]
        assert ("archive" in names) is enabled
