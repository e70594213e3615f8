"""Trades backfill end to end on the real Kafka and ClickHouse: vendor fixture ->
``tickwatch backfill --what trades`` (a separate process, SIGKILLed between pages) -> the
trades topic -> the load worker -> ``market.trades``. Every trade must be there exactly once
with a plain ``count()`` after a kill -9, a re-run, an overlapping range, trades the live
stream had already loaded and trades it had produced that are still in Kafka, not yet loaded,
under the same natural key (source, symbol, trade_id + exchange, day).
Then crypto bars (Polygon ``X:BTCUSD``) land with their asset class and instrument, and
``tickwatch gaps`` counts their missing minutes on the 24/7 calendar."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Producer

from pipeline.codec import Trade, encode_value
from tests.backfill.test_backfill_exactly_once import backfill_env, committed_messages, finish
from tests.backfill.vendor_fixture import (
    ALPACA_EXCHANGE,
    Behaviour,
    FixtureTrade,
    VendorFixture,
    minute_bars,
    trades_at,
)
from tests.pipeline.test_load_exactly_once import count, wait_for, worker_env
from tickwatch.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

HOUR_NS = 3_600_000_000_000
# Two days ago on the hour: inside the load worker's max_past_s (7 days), well before now.
T0_NS = (time.time_ns() // HOUR_NS - 48) * HOUR_NS
TRADES = 900  # 3 per microsecond, every 12 s: 300 groups over an hour
LIVE = 10  # the first trades were loaded by the live stream before the backfill
IN_KAFKA = 5  # the next ones the live stream produced, not yet loaded when the backfill runs


def at(offset_min: int) -> str:
    moment = datetime.fromtimestamp(T0_NS // 1_000_000_000 + offset_min * 60, tz=UTC)
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def vendor() -> Iterator[VendorFixture]:
    fixture = VendorFixture(
        minute_bars(T0_NS // 1_000_000, 120), Behaviour(page_size=40, page_delay_s=0.4),
        trades=trades_at(T0_NS, TRADES, every_ns=12_000_000_000),
        tickers=frozenset({"AAPL", "X:BTCUSD"}),
    )  # fmt: skip
    yield fixture
    fixture.stop()


def run_backfill(
    env: dict[str, str], cwd: Path, source: str, first: str, last: str, *extra: str
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "tickwatch", "backfill", "--source", source, "--what", "trades",
            "--symbols", "AAPL", "--from", first, "--to", last, *extra]  # fmt: skip
    return subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def insert_live_trades(client: Client, source: str, trades: list[FixtureTrade]) -> None:
    """What the live stream loaded: its times are whole milliseconds, its exchange the
    vendor's (Polygon's id, Alpaca's letter), the same trade ids."""
    rows = []
    for t in trades:
        exchange = str(t.exchange) if source == "polygon" else ALPACA_EXCHANGE[t.exchange]
        when = datetime.fromtimestamp(t.sip_ns // 1_000_000 / 1000, tz=UTC)
        rows.append(["AAPL", "equity", when, t.price, t.size, exchange, str(t.trade_id), [],
                     source, when, when, when, 0, 0])  # fmt: skip
    columns = ["symbol", "asset_class", "event_time", "price", "size", "exchange", "trade_id",
               "conditions", "source", "received_at", "kafka_time", "inserted_at",
               "kafka_partition", "kafka_offset"]  # fmt: skip
    client.insert("trades", rows, column_names=columns)


def produce_live_trades(settings: Settings, source: str, trades: list[FixtureTrade]) -> None:
    """What the live ingest produced and the load worker has not loaded yet."""
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    for t in trades:
        exchange = str(t.exchange) if source == "polygon" else ALPACA_EXCHANGE[t.exchange]
        trade = Trade("AAPL", t.sip_ns // 1_000_000 * 1000, t.price, t.size, exchange=exchange,
                      trade_id=str(t.trade_id), source=source)  # fmt: skip
        producer.produce(settings.kafka.topic_trades, encode_value(trade, trade.ts), b"AAPL")
    assert producer.flush(30) == 0


def load_until(settings: Settings, client: Client, cwd: Path, sql: str, total: int) -> None:
    """Run the load worker until ``sql`` counts ``total``, then stop it (SIGTERM)."""
    load = subprocess.Popen(
        [sys.executable, "-m", "pipeline.load_cli"], env=worker_env(settings), cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: count(client, sql) >= total, f"{total} rows loaded", 180)
    finally:
        load.send_signal(signal.SIGTERM)
        load.wait(60)


@pytest.mark.parametrize("source", ["polygon", "alpaca"])
def test_trades_kill_9_rerun_overlap_and_live_trades_load_every_trade_exactly_once(
    source: str, settings: Settings, ch_client: Client, vendor: VendorFixture, tmp_path: Path
) -> None:
    insert_live_trades(ch_client, source, vendor.trades[:LIVE])
    produce_live_trades(settings, source, vendor.trades[LIVE : LIVE + IN_KAFKA])
    env = backfill_env(settings, vendor, tmp_path)
    ops = settings.clickhouse.ops_database
    marks = f"SELECT count() FROM {ops}.backfill_watermarks WHERE dataset = 'trades'"

    first = run_backfill(env, tmp_path, source, at(0), at(40))  # trades 0..599 (+ ties)
    wait_for(lambda: count(ch_client, marks) >= 3, "three committed pages", 120)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(30)
    assert first.stdout is not None
    first.stdout.close()

    vendor.behaviour.page_delay_s = 0.0
    rerun = finish(run_backfill(env, tmp_path, source, at(0), at(40)))
    assert "trades produced" in rerun
    before = len(vendor.behaviour.requests)
    finish(run_backfill(env, tmp_path, source, at(20), at(60)))  # overlaps: only 40..60 is new
    first_new = vendor.behaviour.requests[before]
    expected = (
        f"timestamp.gte={(T0_NS // 1000 + 40 * 60_000_000 + 1) * 1000}"
        if source == "polygon" else "start=" + at(40).replace(":", "%3A")
    )  # fmt: skip
    assert expected in first_new, first_new
    again = finish(run_backfill(env, tmp_path, source, at(0), at(60)))
    assert "already covered" in again

    topic = settings.kafka.topic_trades
    assert committed_messages(settings.kafka.bootstrap, topic) == TRADES - LIVE  # 5 live
    load_until(settings, ch_client, tmp_path, "SELECT count() FROM trades", TRADES)
    assert count(ch_client, "SELECT count() FROM trades") == TRADES
    assert count(ch_client, "SELECT uniqExact(source, symbol, trade_id) FROM trades") == TRADES
    loaded = f"SELECT count() FROM trades WHERE source = '{source}' AND venue != ''"
    backfilled = vendor.trades[LIVE + IN_KAFKA :]
    assert count(ch_client, loaded) == len(backfilled)  # the backfilled ones carry their MIC
    odd_lots = "SELECT countIf(updates_volume = 1 AND updates_open_close = 0) FROM trades"
    assert count(ch_client, odd_lots) == len([t for t in backfilled if t.conditions])
    assert count(ch_client, f"SELECT count() FROM {ops}.dead_letters") == 0


def test_crypto_bars_land_with_their_asset_class_and_gaps_use_the_24_7_calendar(
    settings: Settings, ch_client: Client, vendor: VendorFixture, tmp_path: Path
) -> None:
    vendor.behaviour.page_delay_s = 0.0
    env = backfill_env(settings, vendor, tmp_path)
    argv = [sys.executable, "-m", "tickwatch", "backfill", "--source", "polygon",
            "--symbols", "X:BTCUSD", "--from", at(0), "--to", at(90)]  # fmt: skip
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    load_until(settings, ch_client, tmp_path, "SELECT count() FROM bars", 91)
    rows = ch_client.query("SELECT DISTINCT symbol, asset_class, instrument FROM bars").result_rows
    assert rows == [("X:BTCUSD", "crypto", "BTC/USD")]
    gaps = [sys.executable, "-m", "tickwatch", "gaps", "--symbols", "X:BTCUSD",
            "--from", at(0), "--to", at(119)]  # fmt: skip
    listed = subprocess.run(
        gaps, env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    # 120 minutes, 24/7: the fixture had bars for 91 of them; the last 29 are missing
    assert "X:BTCUSD: 29 open-market minutes without a 1-minute bar" in listed.stdout
