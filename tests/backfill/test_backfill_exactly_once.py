"""Backfill end to end on the real Kafka and ClickHouse: vendor fixture -> ``tickwatch backfill``
(a separate process, SIGKILLed between pages) -> the bars topic -> the load worker ->
``market.bars``. Every bar must be there exactly once with a plain ``count()``, after a kill -9,
a re-run, an overlapping range and bars the live stream had already loaded."""

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
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from pipeline.codec import Bar, encode_value
from tests.backfill.vendor_fixture import (
    ALPACA_KEY_ID,
    ALPACA_SECRET,
    POLYGON_KEY,
    Behaviour,
    VendorFixture,
    minute_bars,
)
from tests.pipeline.test_load_exactly_once import count, wait_for, worker_env
from tickwatch.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

START_MS = 1_793_629_800_000  # 2026-11-02 14:30 UTC
DAY_MS = 86_400_000
BARS_PER_DAY = 390
DAY3_MS = START_MS - 52_200_000 + 2 * DAY_MS  # 2026-11-04 00:00 UTC
LIVE_BARS = 10  # already in market.bars from the live stream before the backfill
IN_KAFKA_BARS = 5  # the next ones the live stream produced, not yet loaded


@pytest.fixture
def behaviour() -> Behaviour:
    return Behaviour(page_size=40, page_delay_s=0.4)


@pytest.fixture
def vendor(behaviour: Behaviour) -> Iterator[VendorFixture]:
    bars = [b for day in range(3) for b in minute_bars(START_MS + day * DAY_MS, BARS_PER_DAY)]
    fixture = VendorFixture(bars, behaviour)
    yield fixture
    fixture.stop()


def backfill_env(settings: Settings, vendor: VendorFixture, tmp_path: Path) -> dict[str, str]:
    env = worker_env(settings)
    env.update(
        {
            "TICKWATCH_BACKFILL_POLYGON_URL": vendor.url,
            "TICKWATCH_SOURCES_POLYGON_API_KEY": POLYGON_KEY,
            "TICKWATCH_BACKFILL_ALPACA_URL": vendor.url,
            "TICKWATCH_SOURCES_ALPACA_KEY_ID": ALPACA_KEY_ID,
            "TICKWATCH_SOURCES_ALPACA_SECRET_KEY": ALPACA_SECRET,
            "TICKWATCH_BACKFILL_TOPIC_LEDGER": f"{settings.kafka.topic_bars}.ledger",
            "TICKWATCH_STACK_STATE_DIR": str(tmp_path / "state"),
        }
    )
    return env


def backfill(
    env: dict[str, str], cwd: Path, first: str, last: str, source: str = "polygon"
) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "tickwatch", "backfill", "--source", source,
            "--symbols", "AAPL", "--from", first, "--to", last, "--interval", "1m"]  # fmt: skip
    return subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen[str]) -> str:
    output, _ = process.communicate(timeout=240)
    assert process.returncode == 0, output
    return output


def insert_live_bars(client: Client, source: str, minutes: str = f"number < {LIVE_BARS}") -> None:
    """Bars the live stream loaded (same natural key): the backfill must not add them again."""
    client.command(
        "INSERT INTO bars (symbol, asset_class, event_time, interval_s, open, high, low, close, "
        "volume, vwap, trade_count, source, received_at, kafka_time, inserted_at, "
        "kafka_partition, kafka_offset) "
        "SELECT 'AAPL', 'equity', fromUnixTimestamp64Milli(toInt64("
        f"{START_MS} + number * 60000), 'UTC'), 60, 100, 101, 99, 100.5, 10, 100.5, 3, "
        f"'{source}', now64(6), now64(3), now64(6), 0, 0 FROM numbers({BARS_PER_DAY}) "
        f"WHERE {minutes}"
    )


def produce_live_bars(settings: Settings, source: str) -> None:
    """Bars the live ingest produced that the load worker has not loaded yet."""
    producer = Producer({"bootstrap.servers": settings.kafka.bootstrap})
    for i in range(LIVE_BARS, LIVE_BARS + IN_KAFKA_BARS):
        ts = (START_MS + i * 60_000) * 1000
        bar = Bar("AAPL", ts, 60, 100, 101, 99, 100.5, 10, source=source, instrument="AAPL")
        producer.produce(
            settings.kafka.topic_bars, encode_value(bar, time.time_ns() // 1000), b"AAPL"
        )
    assert producer.flush(30) == 0


FIRST_REQUEST_OF_DAY_3 = {
    "polygon": f"/minute/{DAY3_MS}/",
    "alpaca": "start=2026-11-04T00%3A00%3A00Z",
}


@pytest.mark.parametrize("source", ["polygon", "alpaca"])
def test_kill_9_mid_backfill_then_rerun_and_overlap_load_every_bar_exactly_once(
    source: str,
    settings: Settings,
    ch_client: Client,
    vendor: VendorFixture,
    tmp_path: Path,
) -> None:
    behaviour = vendor.behaviour
    insert_live_bars(ch_client, source)
    produce_live_bars(settings, source)
    env = backfill_env(settings, vendor, tmp_path)
    marks = f"SELECT count() FROM {settings.clickhouse.ops_database}.backfill_watermarks"

    first = backfill(env, tmp_path, "2026-11-02", "2026-11-03", source)
    wait_for(lambda: count(ch_client, marks) >= 3, "three committed pages", 120)
    os.kill(first.pid, signal.SIGKILL)  # between pages, or inside one: both must hold
    first.wait(30)
    assert first.stdout is not None
    first.stdout.close()

    behaviour.page_delay_s = 0.0
    rerun = finish(backfill(env, tmp_path, "2026-11-02", "2026-11-03", source))
    assert "bars produced" in rerun
    requests_before = len(behaviour.requests)
    overlap = finish(backfill(env, tmp_path, "2026-11-03", "2026-11-04", source))  # day 3 is new
    assert "AAPL" in overlap
    fetched = behaviour.requests[requests_before:]
    assert FIRST_REQUEST_OF_DAY_3[source] in fetched[0], (
        fetched
    )  # only the uncovered day was asked for
    again = finish(backfill(env, tmp_path, "2026-11-02", "2026-11-04", source))
    assert "already covered" in again
    # every bar reached the topic once (read_committed, as the load worker reads it): the 5
    # live ones in Kafka and the backfilled ones, none of the 10 already loaded
    topic = settings.kafka.topic_bars
    assert committed_messages(settings.kafka.bootstrap, topic) == 3 * BARS_PER_DAY - LIVE_BARS

    total = 3 * BARS_PER_DAY
    load_until(settings, ch_client, tmp_path, total)
    assert count(ch_client, "SELECT count() FROM bars") == total
    assert (
        count(ch_client, "SELECT uniqExact(source, symbol, interval_s, event_time) FROM bars")
        == total
    )
    dead = f"SELECT count() FROM {settings.clickhouse.ops_database}.dead_letters"
    assert count(ch_client, dead) == 0


def committed_messages(bootstrap: str, topic: str) -> int:
    """Committed records in ``topic`` (all partitions), read to the end ``read_committed``."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap, "group.id": "backfill-test-reader",
            "isolation.level": "read_committed", "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )  # fmt: skip
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    seen, ended = 0, set[int]()
    deadline = time.monotonic() + 60
    try:
        while len(ended) < len(partitions):
            assert time.monotonic() < deadline, "the topic's end was not reached"
            message = consumer.poll(0.5)
            if message is None:
                continue
            error = message.error()
            if error is None:
                seen += 1
            elif error.code() == KafkaError._PARTITION_EOF:
                ended.add(int(message.partition() or 0))
    finally:
        consumer.close()
    return seen


def run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)


def load_until(settings: Settings, client: Client, cwd: Path, total: int) -> None:
    """Run the load worker until ``market.bars`` holds ``total`` rows, then stop it (SIGTERM)."""
    load = subprocess.Popen(
        [sys.executable, "-m", "pipeline.load_cli"], env=worker_env(settings), cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        loaded = "SELECT count() FROM bars"
        wait_for(lambda: count(client, loaded) >= total, f"{total} bars loaded", 180)
    finally:
        load.send_signal(signal.SIGTERM)
        load.wait(60)


def test_gaps_lists_missing_open_minutes_and_backfill_fills_exactly_those(
    settings: Settings, ch_client: Client, vendor: VendorFixture, tmp_path: Path
) -> None:
    vendor.behaviour.page_delay_s = 0.0
    insert_live_bars(ch_client, "live", "number NOT BETWEEN 30 AND 39 AND number != 200")
    env = backfill_env(settings, vendor, tmp_path)
    argv = [sys.executable, "-m", "tickwatch", "gaps", "--symbols", "AAPL",
            "--from", "2026-11-02", "--to", "2026-11-02"]  # fmt: skip
    listed = subprocess.run(
        argv, env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "AAPL: 11 open-market minutes without a 1-minute bar" in listed.stdout
    assert "2026-11-02T15:00:00Z .. 2026-11-02T15:09:00Z  (10 min)" in listed.stdout
    assert vendor.behaviour.requests == []  # listing asks no vendor

    filled = run([*argv, "--backfill", "--source", "polygon"], env, tmp_path)
    assert filled.returncode == 0, filled.stdout + filled.stderr
    assert committed_messages(settings.kafka.bootstrap, settings.kafka.topic_bars) == 11
    load_until(settings, ch_client, tmp_path, BARS_PER_DAY)
    assert count(ch_client, "SELECT count() FROM bars") == BARS_PER_DAY
    again = run(argv, env, tmp_path)
    assert "AAPL: 0 open-market minutes" in again.stdout, again.stdout
