"""Permanent rejections on the real Kafka and ClickHouse: nothing stalls, nothing doubles.

* A bar whose ``interval_s`` does not fit its ``UInt32`` column (issue 12, finding 2) is dead-
  lettered and its partition moves on.
* A ``CHECK`` constraint an operator added to ``trades`` rejects some rows on the server; the
  worker bisects each batch, and ``python -m pipeline.load_cli`` processes are killed with
  SIGKILL in the middle of it: every good row lands exactly once (``count()`` vs distinct
  (partition, offset)), also in the candle views, and every rejected row is one dead letter.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from pipeline.codec import Bar, Trade, encode, to_wire
from tests.pipeline.test_load_exactly_once import worker_env
from tests.pipeline.test_load_pipeline import (
    NOW_US,
    WorkerThread,
    committed,
    count,
    produce,
    wait_for,
    wire,
    with_load,
)
from tickwatch.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

SEED = 20261201


def test_bar_with_interval_over_uint32_is_dead_lettered_and_the_partition_moves_on(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    load_settings = with_load(settings)
    topic, ops = load_settings.kafka.topic_bars, load_settings.clickhouse.ops_database
    good = [wire(Bar(f"B{i % 3}", NOW_US + i, 60, 10, 12, 9, 11, 100)) for i in range(30)]
    huge = orjson.dumps({**to_wire(Bar("B1", NOW_US, 60, 10, 12, 9, 11, 100)), "interval_s": 2**32})
    values = [*good[:15], huge, *good[15:]]
    where = produce(kafka_bootstrap, topic, [(0, v) for v in values])
    worker = WorkerThread(load_settings, kafka_bootstrap)
    dead = f"SELECT count() FROM {ops}.dead_letters"
    wait_for(
        lambda: count(ch_client, "SELECT count() FROM bars") == 30 and count(ch_client, dead) == 1,
        "the bars and one dead letter",
    )
    wait_for(
        lambda: committed(load_settings, kafka_bootstrap, topic)[0][1] == 31, "the commit past it"
    )
    worker.stop()
    [(offset, payload, reason, detail)] = ch_client.query(
        f"SELECT kafka_offset, payload, reason, detail FROM {ops}.dead_letters"
    ).result_rows
    assert offset == where[15][1]
    assert orjson.loads(payload)["interval_s"] == 2**32
    assert "interval_s" in detail, (reason, detail)
    assert count(ch_client, "SELECT max(interval_s) FROM bars") == 60


def bad_trade_stream(n: int, bad_every: int) -> tuple[list[tuple[int, bytes]], int]:
    values = []
    bad = 0
    for i in range(n):
        price = 5000.0 if i % bad_every == 3 else 100.0 + i % 13
        bad += price >= 1000
        values.append((i % 3, encode(Trade(f"S{i % 7}", NOW_US + i * 1000, price, 1.0)).value))
    return values, bad


@pytest.mark.slow
def test_kill_9_during_bisection_leaves_every_good_row_exactly_once(
    settings: Settings, kafka_bootstrap: str, ch_client: Client, tmp_path: Path
) -> None:
    ops = settings.clickhouse.ops_database
    ch_client.command("ALTER TABLE trades ADD CONSTRAINT sane CHECK price < 1000")
    values, bad = bad_trade_stream(12_000, bad_every=400)
    produce(kafka_bootstrap, settings.kafka.topic_trades, values)
    valid = len(values) - bad
    env = worker_env(settings)
    log = (tmp_path / "workers.log").open("ab")
    dead = f"SELECT count() FROM {ops}.dead_letters"

    def start() -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "pipeline.load_cli"]
        return subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=log, stderr=log)

    rng = random.Random(SEED)
    for _ in range(4):
        process = start()
        before = count(ch_client, "SELECT count() FROM trades")
        wait_for(
            lambda b=before, p=process: (  # type: ignore[misc]
                count(ch_client, "SELECT count() FROM trades") > b or p.poll() is not None
            ),
            "progress",
        )
        assert process.poll() is None, (tmp_path / "workers.log").read_text()[-3000:]
        time.sleep(rng.uniform(0.0, 1.0))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    process = start()
    wait_for(
        lambda: (
            count(ch_client, "SELECT count() FROM trades") >= valid
            and count(ch_client, dead) >= bad
        ),
        "the stream to drain",
        timeout_s=180,
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert count(ch_client, "SELECT count() FROM trades") == valid
    assert count(ch_client, "SELECT uniqExact(kafka_partition, kafka_offset) FROM trades") == valid
    assert count(ch_client, "SELECT sum(trade_count) FROM candles_1s") == valid
    assert count(ch_client, "SELECT sum(trade_count) FROM candles_1m") == valid
    assert count(ch_client, dead) == bad
    distinct = f"SELECT uniqExact(kafka_partition, kafka_offset) FROM {ops}.dead_letters"
    assert count(ch_client, distinct) == bad
    reasons = ch_client.query(f"SELECT DISTINCT reason FROM {ops}.dead_letters").result_rows
    assert reasons == [("clickhouse_violated_constraint",)]
    bisections = (tmp_path / "workers.log").read_text().count("rejected: bisecting")
    assert bisections > 0
    print(f"bisections (with replays after kill -9): {bisections}")
