"""Two real ClickHouse shards (two chdb-core servers), the load worker routing partitions to them.

The servers list each other in ``<remote_servers>`` (``tickwatch.stack.clickhouse_cluster``);
``tickwatch migrate`` applies the cluster DDL to each node (non-replicated local tables +
``Distributed``: chdb-core has no Keeper client, so replication cannot run here — the replicated
DDL is checked by parsing, ``tests/test_cluster_ddl.py``). ``python -m pipeline.load_cli``
processes are SIGKILLed at seeded random moments, then one drains the stream. Rows must be spread
over both shards, every (partition, offset) exactly once, the candles correct through the
``Distributed`` read path.
"""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Producer

from pipeline.codec import Trade, encode
from tests.pipeline.test_load_exactly_once import count, wait_for, worker_env
from tickwatch.clients import clickhouse_client
from tickwatch.migrate_cli import run_migrate
from tickwatch.settings import ClickHouseSettings, KafkaSettings, Settings, StackSettings
from tickwatch.stack.clickhouse_cluster import sharded_servers
from tickwatch.stack.clickhouse_server import ClickHouseServer
from tickwatch.topics import create_pipeline_topics

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

TICKS = 60_000
PARTITIONS = 4  # partitions 0, 2 -> shard 1; 1, 3 -> shard 2
KILLS = 4
SEED = 20261201


@pytest.fixture
def shards(tmp_path: Path) -> Iterator[list[ClickHouseServer]]:
    servers = sharded_servers(tmp_path / "clickhouse", "tw", 2, ready_timeout_s=90.0)
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _settings(kafka: KafkaSettings, servers: list[ClickHouseServer], state: Path) -> Settings:
    kafka = kafka.model_copy(
        update={
            "partitions": PARTITIONS,
            "topic_trades": kafka.topic_trades + "4",
            "topic_quotes": kafka.topic_quotes + "4",
            "topic_bars": kafka.topic_bars + "4",
            "topic_dlq": kafka.topic_dlq + "4",
        }
    )
    ch = ClickHouseSettings(
        url=servers[0].url,
        cluster="tw",
        cluster_replicated=False,
        shard_urls=",".join(s.url for s in servers),
    )
    return Settings(
        _env_file=None, stack=StackSettings(state_dir=state), kafka=kafka, clickhouse=ch
    )


def _produce(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    now = int(time.time()) * 10**6
    for i in range(TICKS):
        trade = Trade(f"S{i % 40}", now + i * 100, 100.0 + i % 13, 1.0 + i % 3)
        producer.produce(topic, encode(trade).value, trade.symbol.encode(), partition=i % 4)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


@contextlib.contextmanager
def _killed_at_exit(started: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """Kill load workers still running when the block ends (a failing assertion)."""
    try:
        yield
    finally:
        for child in started:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)


def _cluster_env(settings: Settings) -> dict[str, str]:
    env = worker_env(settings)
    ch = settings.clickhouse
    env.update(
        {
            "TICKWATCH_CLICKHOUSE_CLUSTER": ch.cluster,
            "TICKWATCH_CLICKHOUSE_CLUSTER_REPLICATED": "false",
            "TICKWATCH_CLICKHOUSE_SHARD_URLS": ch.shard_urls,
            "TICKWATCH_KAFKA_PARTITIONS": str(settings.kafka.partitions),
        }
    )
    return env


def test_two_shards_exactly_once_under_kill_9_and_candles_through_distributed(
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    shards: list[ClickHouseServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _settings(kafka_settings, shards, tmp_path / "state")
    create_pipeline_topics(settings.kafka, kafka_bootstrap)
    monkeypatch.chdir(tmp_path)
    assert run_migrate(settings) == 0
    _produce(kafka_bootstrap, settings.kafka.topic_trades)
    reader = clickhouse_client(settings.clickhouse, shards[0].url, database="market")
    nodes = [clickhouse_client(settings.clickhouse, s.url, database="market") for s in shards]
    env = _cluster_env(settings)
    log_path = tmp_path / "workers.log"
    rows = "SELECT count() FROM trades"  # the Distributed table: both shards
    rng = random.Random(SEED)
    started: list[subprocess.Popen[bytes]] = []
    with log_path.open("ab") as log, _killed_at_exit(started):

        def start() -> subprocess.Popen[bytes]:
            argv = [sys.executable, "-m", "pipeline.load_cli"]
            started.append(subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=log, stderr=log))
            return started[-1]

        kills_mid_stream = 0
        for _ in range(KILLS):
            process = start()
            before = count(reader, rows)

            def progressed(proc: subprocess.Popen[bytes] = process, before: int = before) -> bool:
                return count(reader, rows) > before or proc.poll() is not None

            wait_for(progressed, "progress", timeout_s=90)
            assert process.poll() is None, log_path.read_text()[-3000:]
            time.sleep(rng.uniform(0.0, 0.5))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            kills_mid_stream += count(reader, rows) < TICKS
        process = start()
        wait_for(lambda: count(reader, rows) >= TICKS, "the stream to drain", timeout_s=180)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log_path.read_text()[-3000:]

    assert kills_mid_stream >= KILLS // 2
    _assert_exactly_once_and_spread(reader, nodes)
    for client in (reader, *nodes):
        client.close()


def _assert_exactly_once_and_spread(reader: Client, nodes: list[Client]) -> None:
    assert count(reader, "SELECT count() FROM trades") == TICKS
    assert count(reader, "SELECT uniqExact(kafka_partition, kafka_offset) FROM trades") == TICKS
    per_shard = [count(n, "SELECT count() FROM trades_local") for n in nodes]
    assert sum(per_shard) == TICKS and min(per_shard) > 0, per_shard
    print(f"rows per shard: {per_shard}")
    for index, node in enumerate(nodes):  # partition p lives on shard p mod 2 only
        wrong = count(
            node, f"SELECT count() FROM trades_local WHERE kafka_partition % 2 != {index}"
        )
        assert wrong == 0
    assert count(reader, "SELECT sum(trade_count) FROM candles_1s") == TICKS
    assert count(reader, "SELECT sum(trade_count) FROM candles_1m") == TICKS
    expected = reader.query(
        "SELECT symbol, toStartOfMinute(event_time) AS b, count(), round(sum(size), 3), "
        "max(price), min(price), argMin(price, event_time), argMax(price, event_time) "
        "FROM trades GROUP BY symbol, b ORDER BY symbol, b"
    ).result_rows
    candles = reader.query(
        "SELECT symbol, bucket, trade_count, round(volume, 3), high, low, open, close "
        "FROM candles_1m ORDER BY symbol, bucket"
    ).result_rows
    assert candles == expected


def test_the_layout_check_names_a_shard_url_given_out_of_order(
    shards: list[ClickHouseServer],
) -> None:
    from pipeline.load.shards import ShardLayoutError, verify_layout

    def settings(urls: list[str]) -> ClickHouseSettings:
        return ClickHouseSettings(cluster="tw", cluster_replicated=False, shard_urls=",".join(urls))

    urls = [s.url for s in shards]
    clients = [clickhouse_client(ClickHouseSettings(), u) for u in urls]
    try:
        verify_layout(settings(urls), clients)
        with pytest.raises(ShardLayoutError, match=r"shard_urls\[0\] = .* should be shard 1"):
            verify_layout(settings(urls[::-1]), clients[::-1])
        with pytest.raises(ShardLayoutError, match="has 1 entries but cluster 'tw' has 2"):
            verify_layout(settings(urls[:1]), clients[:1])
    finally:
        for client in clients:
            client.close()
