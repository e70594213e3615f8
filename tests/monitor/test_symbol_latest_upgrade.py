"""Migrations 0019/0020 (symbol_latest becomes a view over symbol_activity_daily) against the real
ClickHouse: an upgraded database answers the freshness check as before, including symbols whose
daily rows had already expired, and the daily table's TTL rolls expired days up instead of
losing them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from monitor.checks.freshness import FreshnessCheck
from monitor.checks.freshness_grade import Limits
from tickwatch import migrations
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clients import clickhouse_client
from tickwatch.clock import ManualClock
from tickwatch.market_hours import TradingHours
from tickwatch.settings import ClickHouseSettings
from tickwatch.stack.clickhouse_cluster import sharded_servers
from tickwatch.types import ExpectedSymbol

from .test_checks_clickhouse import NOW, dt, insert_bars, insert_trades

pytestmark = pytest.mark.clickhouse

DAY = 86_400
LATEST = (
    "SELECT record_type, source, symbol, anyLast(asset_class), anyLast(exchange), "
    "toFloat64(min(first_event)), toFloat64(max(last_event)), toFloat64(max(fresh_as_of)) "
    "FROM symbol_latest GROUP BY record_type, source, symbol ORDER BY record_type, symbol"
)


@pytest.fixture
def at_0018(clickhouse_url: str, tmp_path: Path) -> Iterator[tuple[ClickHouseSettings, Client]]:
    """Fresh databases with the migrations up to 0018 only (the schema before the view)."""
    suffix = uuid.uuid4().hex[:8]
    settings = ClickHouseSettings(
        url=clickhouse_url, market_database=f"market_{suffix}", ops_database=f"ops_{suffix}"
    )
    for migration in migrations.discover():
        if migration.version <= "0018":
            (tmp_path / migration.path.name).symlink_to(migration.path)
    admin = clickhouse_client(settings, clickhouse_url)
    migrations.apply(admin, settings, tmp_path)
    client = clickhouse_client(settings, clickhouse_url, database=settings.market_database)
    try:
        yield settings, client
    finally:
        for database in (settings.market_database, settings.ops_database):
            admin.command(f"DROP DATABASE IF EXISTS {database} SYNC")
        client.close()
        admin.close()


def _latest_row(record_type: str, symbol: str, first_ago: float, last_ago: float) -> list[object]:
    return [record_type, "sim", symbol, "crypto", "", dt(first_ago), dt(last_ago), dt(last_ago)]


def _check(settings: ClickHouseSettings, expected: list[ExpectedSymbol]) -> FreshnessCheck:
    handle = ClickHouseHandle(lambda: clickhouse_client(settings, settings.url))
    clock = ManualClock(NOW - 400)
    check = FreshnessCheck(handle, settings.market_database, TradingHours(), expected,
                           limits=Limits(60, 300), interval_s=10, clock=clock)  # fmt: skip
    clock.set(NOW)
    return check


def test_upgrade_keeps_every_symbol_and_the_checks_results(
    at_0018: tuple[ClickHouseSettings, Client],
) -> None:
    settings, client = at_0018
    insert_trades(client, [("BTC-USD", "crypto", 400, 1), ("BTC-USD", "crypto", 300, 1),
                           ("ETH-USD", "crypto", 2, 1), ("ETH-USD", "crypto", 1, 1)])  # fmt: skip
    insert_bars(client, "BTC-USD", 130, 60)
    # rows only the old table still has: a symbol silent for 80 days (its daily rows expired),
    # and ETH-USD's first trade 60 days ago (that day's daily row expired)
    columns = ["record_type", "source", "symbol", "asset_class", "exchange", "first_event",
               "last_event", "fresh_as_of"]  # fmt: skip
    client.insert("symbol_latest", [_latest_row("trades", "SILENT", 90 * DAY, 80 * DAY),
                                    _latest_row("trades", "ETH-USD", 60 * DAY, 60 * DAY)],
                  column_names=columns)  # fmt: skip
    expected = [ExpectedSymbol("sim", "SOL-USD", "crypto")]
    latest_before = client.query(LATEST).result_rows
    results_before = [(r.target, r.status, r.message) for r in _check(settings, expected).run()]

    assert migrations.apply(client, settings) == ["0019", "0020"]

    assert client.command("SELECT engine FROM system.tables WHERE database = currentDatabase() "
                          "AND name = 'symbol_latest'") == "View"  # fmt: skip
    assert client.query(LATEST).result_rows == latest_before
    assert [(r.target, r.status, r.message) for r in _check(settings, expected).run()] == (
        results_before
    )
    trades = next(r for r in results_before if r[0] == "trades/crypto")
    assert "SILENT [sim]" in trades[2]  # the symbol whose daily rows expired is still watched
    # the baseline (records per day within 7 days) did not take the carried rows in
    daily = client.query(
        "SELECT symbol, sum(records) FROM symbol_activity_daily WHERE records > 0 "
        "GROUP BY symbol ORDER BY symbol"
    ).result_rows
    assert daily == [("BTC-USD", 3), ("ETH-USD", 2)]  # 2 trades + 1 bar, 2 trades
    assert migrations.apply(client, settings) == []


def test_expired_days_roll_up_into_one_row_that_keeps_the_symbol(
    ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    ttl = ch_settings.ticks_ttl_days
    insert_trades(ch_client, [("OLD", "crypto", (ttl + 20) * DAY, 1),
                              ("OLD", "crypto", (ttl + 19) * DAY, 1),
                              ("OLD", "crypto", 5, 1)])  # fmt: skip
    before = ch_client.query(LATEST).result_rows
    ch_client.command("OPTIMIZE TABLE symbol_activity_daily FINAL")
    assert ch_client.query(LATEST).result_rows == before  # first event kept, 40+ days ago
    rows = ch_client.query("SELECT records FROM symbol_activity_daily FINAL "
                           "ORDER BY day").result_rows  # fmt: skip
    # today's row with its record, and the expired days as rolled-up rows of 0 records (one per
    # month partition they fell into)
    assert rows[-1] == (1,) and all(r == (0,) for r in rows[:-1]) and 1 <= len(rows[:-1]) <= 2


def _upgrade_node_by_node(settings: ClickHouseSettings, directory: Path | None) -> list[str]:
    applied: list[str] = []
    for url in settings.shard_url_list:
        client = clickhouse_client(settings, url)
        try:
            if directory is None:
                applied += migrations.apply(client, settings)
            else:
                applied += migrations.apply(client, settings, directory)
        finally:
            client.close()
    return applied


def test_upgrade_on_the_sharded_layout_reads_every_shard(tmp_path: Path) -> None:
    """Two servers, non-replicated local tables + Distributed (the layout the two-shard load
    test runs): each node carries its own shard's rows, and the view reads both shards."""
    servers = sharded_servers(tmp_path / "clickhouse", "tw", 2, ready_timeout_s=90.0)
    try:
        for server in servers:
            server.start()
        settings = ClickHouseSettings(url=servers[0].url, cluster="tw", cluster_replicated=False,
                                      shard_urls=",".join(s.url for s in servers))  # fmt: skip
        old = tmp_path / "migrations"
        old.mkdir()
        for migration in migrations.discover():
            if migration.version <= "0018":
                (old / migration.path.name).symlink_to(migration.path)
        _upgrade_node_by_node(settings, old)
        shard = [clickhouse_client(settings, s.url, database="market") for s in servers]
        insert_trades(shard[0], [("BTC-USD", "crypto", 400, 1)], table="trades_local")
        insert_trades(shard[1], [("ETH-USD", "crypto", 2, 1)], table="trades_local")
        shard[1].insert("symbol_latest_local", [_latest_row("trades", "SILENT", 90 * DAY,
                                                            80 * DAY)])  # fmt: skip
        expected = [ExpectedSymbol("sim", "SOL-USD", "crypto")]
        latest_before = shard[0].query(LATEST).result_rows
        results_before = [(r.target, r.status, r.message) for r in _check(settings, expected).run()]
        assert [r[2] for r in latest_before] == ["BTC-USD", "ETH-USD", "SILENT"]

        assert _upgrade_node_by_node(settings, None) == ["0019", "0020"] * 2

        for client in shard:  # every node's view reads the whole cluster
            assert client.query(LATEST).result_rows == latest_before
        results = [(r.target, r.status, r.message) for r in _check(settings, expected).run()]
        assert results == results_before
        for client in shard:
            client.close()
    finally:
        for server in servers:
            server.stop()
