"""THE exactly-once test: kill -9 the load worker process again and again while it drains.

A 200k-tick stream (0.1 % invalid) is loaded by ``python -m pipeline.load_cli`` processes; each of
the first ones is SIGKILLed at a seeded random moment after it made progress, then a last one runs
to the end and stops on SIGTERM. Every (partition, offset) must be in ClickHouse exactly once,
the candle views must count every trade once, and every invalid message must be in
``dead_letters`` exactly once.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, Producer, TopicPartition

from pipeline.codec import Trade, encode, to_wire
from tickwatch.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

TICKS = 200_000
INVALID_EVERY = 1000
KILLS = 8
SEED = 20261121
REPO = Path(__file__).resolve().parents[2]


def produce_stream(bootstrap: str, topic: str) -> tuple[int, int]:
    """Produce the stream to partitions 0..2; return (valid, invalid) counts."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    now = int(time.time()) * 10**6
    invalid = 0
    for i in range(TICKS):
        trade = Trade(f"S{i % 50}", now + i * 100, 100.0 + i % 17, 1.0 + i % 5)
        value = encode(trade).value
        if i % INVALID_EVERY == 7:
            value = orjson.dumps({**to_wire(trade), "size": -1})
            invalid += 1
        producer.produce(topic, value, trade.symbol.encode(), partition=i % 3)
        if i % 20_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0
    return TICKS - invalid, invalid


def worker_env(settings: Settings) -> dict[str, str]:
    kafka, ch = settings.kafka, settings.clickhouse
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKWATCH_")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "TICKWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "TICKWATCH_KAFKA_TOPIC_TRADES": kafka.topic_trades,
            "TICKWATCH_KAFKA_TOPIC_QUOTES": kafka.topic_quotes,
            "TICKWATCH_KAFKA_TOPIC_BARS": kafka.topic_bars,
            "TICKWATCH_KAFKA_TOPIC_DLQ": kafka.topic_dlq,
            "TICKWATCH_KAFKA_CONSUMER_GROUP": kafka.consumer_group,
            "TICKWATCH_CLICKHOUSE_URL": ch.url,
            "TICKWATCH_CLICKHOUSE_MARKET_DATABASE": ch.market_database,
            "TICKWATCH_CLICKHOUSE_OPS_DATABASE": ch.ops_database,
            "TICKWATCH_LOAD_BATCH_MAX_ROWS": "1000",  # many batches: many insert/commit windows
            "TICKWATCH_LOAD_BATCH_MAX_MS": "100",
            "TICKWATCH_LOAD_SESSION_TIMEOUT_MS": "6000",  # a killed member is evicted quickly
            "TICKWATCH_LOAD_METRICS_PORT": "0",
            "TICKWATCH_TELEMETRY_ENABLED": "false",
        }
    )
    return env


def count(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def wait_for(check: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def committed_lag(settings: Settings, bootstrap: str) -> int:
    """Messages between the group's committed offsets and the ends of the partitions."""
    topic = settings.kafka.topic_trades
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": settings.kafka.consumer_group})
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(3)], 10)
        return sum(consumer.get_watermark_offsets(tp, 10)[1] - tp.offset for tp in found)
    finally:
        consumer.close()


def reformed(log: str) -> int:
    """How many recorded batches the restarted workers re-formed (from their assign logs)."""
    found = re.findall(r"assigned \d+ partitions, (\d+) with a batch to re-form", log)
    return sum(int(n) for n in found)


def test_kill_9_at_random_moments_leaves_every_tick_exactly_once(
    settings: Settings, kafka_bootstrap: str, ch_client: Client, tmp_path: Path
) -> None:
    valid, invalid = produce_stream(kafka_bootstrap, settings.kafka.topic_trades)
    env = worker_env(settings)
    dead = f"SELECT count() FROM {settings.clickhouse.ops_database}.dead_letters"
    rows = "SELECT count() FROM trades"
    log = (tmp_path / "workers.log").open("ab")

    def start() -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "pipeline.load_cli"]
        return subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=log, stderr=log)

    rng = random.Random(SEED)
    kills_mid_stream = 0
    for _ in range(KILLS):
        process = start()
        before = count(ch_client, rows)

        def progressed(proc: subprocess.Popen[bytes] = process, before: int = before) -> bool:
            return count(ch_client, rows) > before or proc.poll() is not None

        wait_for(progressed, "progress", timeout_s=60)
        assert process.poll() is None, (tmp_path / "workers.log").read_text()[-3000:]
        time.sleep(rng.uniform(0.0, 0.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        if count(ch_client, rows) < valid:
            kills_mid_stream += 1
    process = start()
    wait_for(
        lambda: count(ch_client, rows) >= valid and count(ch_client, dead) >= invalid,
        "the stream to drain",
        timeout_s=180,
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert kills_mid_stream >= KILLS // 2
    assert count(ch_client, rows) == valid
    assert count(ch_client, "SELECT uniqExact(kafka_partition, kafka_offset) FROM trades") == valid
    assert (
        count(
            ch_client,
            "SELECT count() FROM (SELECT kafka_partition, kafka_offset FROM trades "
            "GROUP BY ALL HAVING count() > 1)",
        )
        == 0
    )
    assert count(ch_client, "SELECT sum(trade_count) FROM candles_1s") == valid
    assert count(ch_client, "SELECT sum(trade_count) FROM candles_1m") == valid
    assert count(ch_client, dead) == invalid
    print(
        f"kills mid-stream: {kills_mid_stream}; batches re-formed from intents: "
        f"{reformed((tmp_path / 'workers.log').read_text())}"
    )
    ops = settings.clickhouse.ops_database
    assert (
        count(ch_client, f"SELECT uniqExact(kafka_partition, kafka_offset) FROM {ops}.dead_letters")
        == invalid
    )
