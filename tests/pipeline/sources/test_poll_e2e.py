"""Polling sources end to end on the real Kafka and ClickHouse: fixture server → the ingest
worker (``python -m pipeline.ingest_cli``, a separate process, SIGKILLed mid-run) → Kafka → the
load worker → ClickHouse. The fixture answers the same snapshot on every poll, so nearly every
poll is a repeat; after the kill -9 (before any checkpoint: the restarted source must read its
watermarks back from Kafka) it adds one new minute, trade and quote. Plain ``count()`` must then
equal the distinct records: repeats and the restart produced no duplicate row.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from tests.backfill.test_backfill_exactly_once import committed_messages
from tests.fixtures.poll_vendors import (
    ALPACA_KEY_ID,
    ALPACA_SECRET,
    POLYGON_KEY,
    Market,
    Minute,
    PollVendorFixture,
)
from tests.pipeline.test_load_exactly_once import count, wait_for, worker_env
from tickwatch.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

NS = 1_000_000_000
TABLES = ("trades", "quotes", "bars")


def markets(now_s: int) -> tuple[Market, Market]:
    """The snapshot before the kill, and after it (one more closed minute, trade and quote)."""
    minute = now_s // 60 * 60
    closed = tuple(Minute(minute - 60 * k, c=100.0 + k / 10) for k in (4, 3, 2))
    before = Market(closed, ("7001", (minute - 100) * NS, 100.2, 10.0),
                    ((minute - 99) * NS, 100.1, 2.0, 100.3, 3.0))  # fmt: skip
    newer = (*closed, Minute(minute - 60, c=100.9))
    after = Market(newer, ("7002", (minute - 30) * NS, 100.8, 5.0),
                   ((minute - 29) * NS, 100.7, 1.0, 100.9, 1.0))  # fmt: skip
    return before, after


@pytest.fixture
def vendor() -> Iterator[PollVendorFixture]:
    fixture = PollVendorFixture([])
    yield fixture
    fixture.stop()


def ingest_env(settings: Settings, name: str, url: str, tmp_path: Path) -> dict[str, str]:
    env = worker_env(settings)
    env.update({
        "TICKWATCH_INGEST_SOURCE": name, "TICKWATCH_INGEST_SYMBOL_LIST": "AAPL",
        "TICKWATCH_INGEST_METRICS_PORT": "0", "TICKWATCH_INGEST_CHECKPOINT_INTERVAL_S": "600",
        "TICKWATCH_POLL_INTERVAL_S": "0.1", "TICKWATCH_POLL_YFINANCE_URL": url,
        "TICKWATCH_POLL_POLYGON_URL": url, "TICKWATCH_POLL_ALPACA_URL": url,
        "TICKWATCH_SOURCES_POLYGON_API_KEY": POLYGON_KEY,
        "TICKWATCH_SOURCES_ALPACA_KEY_ID": ALPACA_KEY_ID,
        "TICKWATCH_SOURCES_ALPACA_SECRET_KEY": ALPACA_SECRET,
        "TICKWATCH_STACK_STATE_DIR": str(tmp_path / "state"),
    })  # fmt: skip
    return env


def start(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    log = (cwd / f"{argv[-1]}.log").open("ab")  # read when a wait times out
    return subprocess.Popen(
        [sys.executable, *argv], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT
    )


def in_kafka(settings: Settings) -> int:
    k = settings.kafka
    return sum(committed_messages(k.bootstrap, t) for t in (k.topic_trades, k.topic_quotes,
                                                             k.topic_bars))  # fmt: skip


def rows_in(client: Client) -> int:
    return sum(count(client, f"SELECT count() FROM {t}") for t in TABLES)


@pytest.mark.parametrize("name", ["yfinance", "polygon_rest", "alpaca_rest"])
def test_repeats_and_a_kill_9_restart_put_each_record_in_clickhouse_once(
    name: str, settings: Settings, ch_client: Client, vendor: PollVendorFixture, tmp_path: Path
) -> None:
    before, after = markets(int(time.time()))
    per_run = {"yfinance": (3, 4), "polygon_rest": (3, 6), "alpaca_rest": (3, 6)}[name]
    env = ingest_env(settings, name, vendor.url, tmp_path)
    vendor.set_script([before])

    first = start(["-m", "tickwatch", "ingest"], env, tmp_path)
    try:
        wait_for(lambda: in_kafka(settings) >= per_run[0], "the first run's records", 120)
        polled = len(vendor.script.requests)
        wait_for(lambda: len(vendor.script.requests) >= polled + 10, "ten repeat polls", 60)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)

    vendor.set_script([after])
    second = start(["-m", "tickwatch", "ingest"], env, tmp_path)
    try:
        wait_for(lambda: len(vendor.script.requests) >= 20, "the restart's polls", 120)
        wait_for(lambda: in_kafka(settings) >= per_run[1], "the restart's new records", 60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    assert in_kafka(settings) == per_run[1]  # nothing handed out twice across the kill -9

    load = start(["-m", "pipeline.load_cli"], worker_env(settings), tmp_path)
    try:
        wait_for(lambda: rows_in(ch_client) >= per_run[1], "the rows in ClickHouse", 180)
    finally:
        load.send_signal(signal.SIGTERM)
        load.wait(60)
    bars = count(ch_client, "SELECT count() FROM bars")
    assert bars == count(
        ch_client, "SELECT uniqExact(source, symbol, interval_s, event_time) FROM bars"
    )
    assert bars == (4 if name == "yfinance" else 2)
    for table in ("trades", "quotes"):
        expected = 0 if name == "yfinance" else 2
        assert count(ch_client, f"SELECT count() FROM {table}") == expected
    assert (
        count(ch_client, f"SELECT count() FROM {settings.clickhouse.ops_database}.dead_letters")
        == 0
    )
