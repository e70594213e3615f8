"""The checks' SQL and the detector's inserts against the real ClickHouse (migrated schema)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver.client import Client

from alerts.events import AlertEvent, EventKind
from alerts.journal import Journal
from alerts.render import render
from monitor.checks.freshness import FreshnessCheck
from monitor.checks.freshness_grade import Limits
from monitor.checks.heartbeats import HeartbeatCheck
from monitor.checks.pipeline_rates import DeadLetterRateCheck, LatencyCheck
from monitor.checks.reachability import ClickHouseReachableCheck
from tickwatch.buffer import BufferedWriter
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clients import clickhouse_client
from tickwatch.clock import ManualClock
from tickwatch.market_hours import TradingHours
from tickwatch.settings import ClickHouseSettings
from tickwatch.types import HEALTH_COLUMNS, CheckResult, ExpectedSymbol, Status

pytestmark = pytest.mark.clickhouse

NOW = time.time()
HOURS_FX = TradingHours().calendar("fx")


def dt(seconds_ago: float) -> datetime:
    return datetime.fromtimestamp(NOW - seconds_ago, tz=UTC)


@pytest.fixture
def handle(ch_settings: ClickHouseSettings) -> ClickHouseHandle:
    return ClickHouseHandle(lambda: clickhouse_client(ch_settings, ch_settings.url))


def insert_trades(
    client: Client, rows: list[tuple[str, str, float, float]], table: str = "trades"
) -> None:
    """(symbol, asset_class, event seconds ago, inserted seconds ago)."""
    data = [[s, c, dt(e), 1.0, 1.0, "sim", dt(e), dt(e), dt(i), 0, n]
            for n, (s, c, e, i) in enumerate(rows)]  # fmt: skip
    cols = ["symbol", "asset_class", "event_time", "price", "size", "source", "received_at",
            "kafka_time", "inserted_at", "kafka_partition", "kafka_offset"]  # fmt: skip
    client.insert(table, data, column_names=cols)


def insert_bars(client: Client, symbol: str, start_ago: float, interval_s: int) -> None:
    bars = [[symbol, "crypto", dt(start_ago), interval_s, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1, "sim",
             dt(1), dt(1), dt(1), 0, 0]]  # fmt: skip
    client.insert("bars", bars, column_names=[
        "symbol", "asset_class", "event_time", "interval_s", "open", "high", "low", "close",
        "volume", "vwap", "trade_count", "source", "received_at", "kafka_time", "inserted_at",
        "kafka_partition", "kafka_offset"])  # fmt: skip


def freshness(
    handle: ClickHouseHandle, db: str, expected: list[ExpectedSymbol], watching_s: float = 0
) -> FreshnessCheck:
    """The check at NOW, started ``watching_s`` earlier."""
    clock = ManualClock(NOW - watching_s)
    check = FreshnessCheck(handle, db, TradingHours(), expected, limits=Limits(60, 300),
                           interval_s=10, clock=clock)  # fmt: skip
    clock.set(NOW)
    return check


def test_freshness_and_latency_on_real_tables(
    ch_client: Client, ch_settings: ClickHouseSettings, handle: ClickHouseHandle
) -> None:
    insert_trades(ch_client, [("BTC-USD", "crypto", 400, 1), ("ETH-USD", "crypto", 2, 1),
                              ("EURUSD", "fx", 500, 3), ("AAPL", "equity", 3, 2.5)])  # fmt: skip
    insert_bars(ch_client, "BTC-USD", 130, 60)
    expected = [ExpectedSymbol("sim", "SOL-USD", "crypto")]
    check = freshness(handle, ch_settings.market_database, expected, watching_s=400)
    got = {r.target: r for r in check.run()}
    crypto = got["trades/crypto"]
    assert crypto.status is Status.CRIT and "BTC-USD [sim] 400s" in crypto.message
    assert "ETH-USD" not in crypto.message and "SOL-USD [sim] never delivered" in crypto.message
    if HOURS_FX.is_open(NOW):
        assert got["trades/fx"].status is Status.CRIT and "EURUSD" in got["trades/fx"].message
    assert got["bars/crypto"].status is Status.OK  # 130 s old start, 60 s bars: on time
    assert "trades/equity" in got
    latency = LatencyCheck(handle, ch_settings.market_database, threshold_s=1.0,
                           interval_s=15, clock=ManualClock(NOW)).run()[0]  # fmt: skip
    assert latency.status is Status.CRIT and 399 < latency.value <= 497  # interpolated p99


def test_latency_reads_only_the_granules_of_recent_inserts(
    ch_client: Client, ch_settings: ClickHouseSettings, handle: ClickHouseHandle
) -> None:
    """Trades inserted an hour ago are in their own part (merges stopped): the latency check's
    filter on inserted_at skips it through the min-max index of migration 0018, so the server
    reads only the recent part's rows, and the result is the one over the recent trades."""
    table = f"{ch_settings.market_database}.trades"
    ch_client.command(f"SYSTEM STOP MERGES {table}")
    try:
        insert_trades(ch_client, [("OLD", "crypto", 3600 + n, 3600) for n in range(500)])
        insert_trades(ch_client, [("NEW", "crypto", 3, 1), ("NEW", "crypto", 2, 1)])
        clock = ManualClock(NOW)
        latency = LatencyCheck(handle, ch_settings.market_database, threshold_s=5.0,
                               interval_s=15, clock=clock).run()[0]  # fmt: skip
        assert latency.status is Status.OK and "over 2 trades" in latency.message
        sql = f"SELECT count() FROM {table} WHERE inserted_at >= {{since:DateTime64(3, 'UTC')}}"
        result = ch_client.query(sql, parameters={"since": dt(15)})
        assert result.result_rows[0][0] == 2
        assert int(result.summary["read_rows"]) == 2  # the hour-old part was not read
    finally:
        ch_client.command(f"SYSTEM START MERGES {table}")


def test_activity_views_keep_one_row_per_symbol_with_counts_per_day(
    ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    db = ch_settings.market_database
    for batch in range(3):  # three inserts: partial aggregates until merged
        insert_trades(ch_client, [("AAPL", "equity", 100 - batch * 10, 1),
                                  ("AAPL", "equity", 95 - batch * 10, 1)])  # fmt: skip
    insert_bars(ch_client, "BTC-USD", 130, 60)
    latest = ch_client.query(
        f"SELECT record_type, symbol, toFloat64(max(last_event)), toFloat64(max(fresh_as_of)) "
        f"FROM {db}.symbol_latest GROUP BY record_type, symbol ORDER BY record_type"
    ).result_rows
    assert [(r[0], r[1]) for r in latest] == [("bars", "BTC-USD"), ("trades", "AAPL")]
    assert abs(latest[1][2] - (NOW - 75)) < 0.01 and abs(latest[0][3] - (NOW - 130 + 120)) < 0.01
    daily = ch_client.query(
        f"SELECT sum(records), toFloat64(min(first_event)) FROM {db}.symbol_activity_daily "
        "WHERE record_type = 'trades' AND symbol = 'AAPL'"
    ).result_rows
    assert daily[0][0] == 6 and abs(daily[0][1] - (NOW - 100)) < 0.01
    ch_client.command(f"OPTIMIZE TABLE {db}.symbol_activity_daily FINAL")
    assert ch_client.command(f"SELECT count() FROM {db}.symbol_latest") == 2
    assert ch_client.command(f"SELECT count() FROM {db}.symbol_activity_daily") == 2


def test_freshness_reads_only_the_small_tables(
    ch_client: Client, ch_settings: ClickHouseSettings, handle: ClickHouseHandle
) -> None:
    insert_trades(ch_client, [(f"S{i}", "crypto", 5, 1) for i in range(200)])
    ch_client.command(f"TRUNCATE TABLE {ch_settings.market_database}.trades")  # raw rows gone
    results = freshness(handle, ch_settings.market_database, []).run()
    assert [(r.target, r.status) for r in results] == [("trades/crypto", Status.OK)]
    assert results[0].message.startswith("200 symbols fresh")


def test_heartbeats_and_dead_letters_on_real_tables(
    ch_client: Client, ch_settings: ClickHouseSettings, handle: ClickHouseHandle
) -> None:
    ops = ch_settings.ops_database
    beats = [[dt(2), "ingest", "h:1", "h", 1, dt(100), "ok", {}],
             [dt(50), "load", "h:2", "h", 2, dt(100), "ok", {}]]  # fmt: skip
    ch_client.insert(f"{ops}.heartbeats", beats, column_names=[
        "time", "service", "instance", "host", "pid", "started", "status", "details"])  # fmt: skip
    dead = [[dt(1), "t", 0, i, dt(1), "k", "bad_price", "", "{}"] for i in range(30)]
    ch_client.insert(f"{ops}.dead_letters", dead, column_names=[
        "time", "topic", "kafka_partition", "kafka_offset", "kafka_time", "key", "reason",
        "detail", "payload"])  # fmt: skip
    clock = ManualClock(NOW)
    beats_result = HeartbeatCheck(handle, ops, ["ingest", "load", "monitor"], timeout_s=30,
                                  interval_s=5, clock=clock).run()  # fmt: skip
    assert {r.target: r.status for r in beats_result} == {
        "ingest": Status.OK, "load": Status.CRIT, "monitor": Status.CRIT}  # fmt: skip
    dlq = DeadLetterRateCheck(handle, ops, threshold=1, interval_s=10, clock=clock).run()[0]
    assert dlq.status is Status.WARN and dlq.value == 3.0 and "bad_price" in dlq.message
    reach = ClickHouseReachableCheck(handle, "x", interval_s=5, clock=clock).run()[0]
    assert reach.status is Status.OK


def test_health_rows_and_alert_history_insert_into_the_real_schema(
    ch_client: Client, ch_settings: ClickHouseSettings, handle: ClickHouseHandle
) -> None:
    ops = ch_settings.ops_database
    health = BufferedWriter(handle, f"{ops}.health_checks", HEALTH_COLUMNS)
    health.add(CheckResult(NOW, "freshness", "trades/fx", Status.CRIT, 500, 60, "m", 0.01).row())
    assert health.flush() == 1
    journal = Journal(handle, ops)
    event = AlertEvent(NOW, "freshness/trades/fx", "freshness", "trades/fx", EventKind.OPEN,
                       Status.CRIT, NOW - 20, 500.0, 60.0, "stale")  # fmt: skip
    journal.event(event)
    note = render([event], "http://g", NOW)
    journal.notification(NOW, note, ["a@x"], status="sent", attempt=1)
    journal.flush()
    assert ch_client.query(f"SELECT status, duration_ms FROM {ops}.health_checks").result_rows == [
        ("CRIT", 10.0)]  # fmt: skip
    assert ch_client.query(f"SELECT event, severity FROM {ops}.alert_events").result_rows == [
        ("open", "CRIT")]  # fmt: skip
    rows = ch_client.query(f"SELECT status, recipients, alert_keys FROM {ops}.notifications")
    assert rows.result_rows == [("sent", ["a@x"], ["freshness/trades/fx"])]
