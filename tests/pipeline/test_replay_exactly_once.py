"""The replay exactly once across ``kill -9``, on the real Kafka and ClickHouse (issue 13 §5):
``tickwatch ingest`` replaying a file (a separate process, SIGKILLed at seeded moments while it
sends), restarted each time until it finishes, then once more; the load worker then loads the
trades topic and a plain ``count()`` of ``market.trades`` equals the file's trades."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, TopicPartition

from pipeline.codec import Trade, to_wire
from tests.pipeline.test_load_exactly_once import count, wait_for, worker_env
from tickwatch.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

TRADES = 12_000
KILLS = 3
SEED = 1313


def replay_file(path: Path) -> Path:
    """12,000 trades over 60 s of recorded time, ending a minute ago (the load worker's window)."""
    base = (int(time.time()) - 120) * 10**6
    rows = (
        to_wire(Trade(f"S{n % 7}", base + n * 5000, 100.0 + n % 50, 1.0 + n % 9,
                      trade_id=str(n), source="replay"))
        for n in range(TRADES)
    )  # fmt: skip
    path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    return path


def ingest_env(settings: Settings, path: Path, tmp_path: Path) -> dict[str, str]:
    env = worker_env(settings)
    env.update(
        {
            "TICKWATCH_INGEST_SOURCE": "replay",
            "TICKWATCH_INGEST_REPLAY_PATH": str(path),
            "TICKWATCH_INGEST_REPLAY_SPEED": "2",  # about 30 s for the whole file
            "TICKWATCH_INGEST_CHECKPOINT_INTERVAL_S": "0.3",  # many transactions to land in
            "TICKWATCH_INGEST_REPLAY_CHECKPOINT_TOPIC": f"{settings.kafka.topic_trades}.positions",
            "TICKWATCH_INGEST_METRICS_PORT": "0",
            "TICKWATCH_STACK_STATE_DIR": str(tmp_path / "state"),
        }
    )
    return env


def ingest(env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tickwatch", "ingest"], env=env, cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def log_end(bootstrap: str, topic: str, partition: int = 0) -> int:
    """The high watermark of ``partition`` (0 while the topic does not exist)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "replay-test-watermark"})
    try:
        if topic not in consumer.list_topics(timeout=10).topics:
            return 0
        end = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[1]
        return int(end)
    finally:
        consumer.close()


def grew(bootstrap: str, topic: str, before: int) -> bool:
    return log_end(bootstrap, topic) > before


def load_until(settings: Settings, client: Client, cwd: Path, total: int) -> None:
    """Run the load worker until ``market.trades`` holds ``total`` rows, then SIGTERM it."""
    load = subprocess.Popen(
        [sys.executable, "-m", "pipeline.load_cli"], env=worker_env(settings), cwd=cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: count(client, "SELECT count() FROM trades") >= total, "trades", 180)
        time.sleep(2)  # anything more (a duplicate) would be loaded by now
    finally:
        load.send_signal(signal.SIGTERM)
        load.wait(60)


def test_kill_9_at_seeded_moments_then_count_equals_the_files_trades(
    settings: Settings, ch_client: Client, tmp_path: Path
) -> None:
    env = ingest_env(settings, replay_file(tmp_path / "day.jsonl"), tmp_path)
    topic, bootstrap = settings.kafka.topic_trades, settings.kafka.bootstrap
    positions = env["TICKWATCH_INGEST_REPLAY_CHECKPOINT_TOPIC"]
    rng = random.Random(SEED)
    end = 0
    for _ in range(KILLS):
        run = ingest(env, tmp_path)
        # progress = the position topic grew (a commit); the trades partitions always have a
        # transaction open while the replay runs, so they are counted only at the end
        wait_for(partial(grew, bootstrap, positions, end), "a commit", 120)
        time.sleep(rng.uniform(0.0, 1.0))  # the seeded moment: inside a transaction, or not
        assert run.poll() is None, f"finished before the kill: {run.communicate()[0]}"
        os.kill(run.pid, signal.SIGKILL)
        run.wait(30)
        assert run.stdout is not None
        run.stdout.close()
        end = log_end(bootstrap, positions)

    last = ingest(env, tmp_path)
    output, _ = last.communicate(timeout=240)
    assert last.returncode == 0, output
    again = ingest(env, tmp_path)
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and "already finished" in output, output

    # the log holds more than the file: aborted records of the transactions the kills left
    # open, and the transaction markers (printed, not asserted: how many depends on timing)
    partitions = range(settings.kafka.partitions)
    logged = sum(log_end(bootstrap, topic, p) for p in partitions)
    print(f"trades topic log end {logged} (records, aborted records, markers) for {TRADES}")
    load_until(settings, ch_client, tmp_path, TRADES)
    assert count(ch_client, "SELECT count() FROM trades") == TRADES
    assert count(ch_client, "SELECT uniqExact(trade_id) FROM trades") == TRADES
