"""A real 3-broker KRaft cluster: leader kill -9 and a rolling restart under a live stream.

Topics have replication factor 3 and ``min.insync.replicas = 2``; the ingest producer's own
configuration (``acks=all``, idempotence) produces a bounded stream at a bounded rate while a
``python -m pipeline.load_cli`` process loads it into the harness ClickHouse. Every produced tick
(unique ``trade_id``) must be in ClickHouse exactly once. The detector's partition checks run
against the cluster meanwhile and feed the alert state machine: the under-replicated and offline
alerts open and resolve once each. (Offline needs a partition whose every replica is down; with a
3-node controller quorum only one node may die, so a one-replica probe topic pinned to the killed
broker stands for it.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from clickhouse_connect.driver.client import Client
from confluent_kafka import Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # public, but not in __all__
    AdminClient,
    ConfigResource,
)
from confluent_kafka.cimpl import NewTopic
from typer.testing import CliRunner

from alerts.events import EventKind
from alerts.state import AlertPolicy, AlertState
from monitor.checks.base import run_check
from monitor.checks.kafka_partitions import OfflinePartitionsCheck, UnderReplicatedCheck
from pipeline.codec import Trade, encode
from pipeline.producer import producer_config
from tests.pipeline.test_load_exactly_once import count, wait_for, worker_env
from tickwatch.clock import SystemClock
from tickwatch.settings import (
    ClickHouseSettings,
    KafkaSettings,
    Settings,
    StackSettings,
    load_settings,
)
from tickwatch.stack import process, stackfile
from tickwatch.stack.cli import stack_app
from tickwatch.stack.kafka_cluster import KafkaCluster
from tickwatch.topics import create_pipeline_topics, pipeline_topics

pytestmark = [pytest.mark.clickhouse, pytest.mark.slow]

TICKS = 20_000
RATE = 1_000  # ticks per second: the stream lasts ~20 s, long enough to span the faults


def test_stack_up_kafka_brokers_3_starts_a_cluster_with_replicated_topics(
    clickhouse_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        stack={"state_dir": tmp_path / "state", "start_prometheus": False, "start_smtp": False},
        clickhouse={"url": clickhouse_url},
        kafka={"partitions": 2, "topic_trades": "stack3.trades", "topic_dlq": "stack3.dlq"},
    )
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = settings

    app.add_typer(stack_app, name="stack")
    runner = CliRunner()
    try:
        up = runner.invoke(app, ["stack", "up", "--kafka-brokers", "3"], terminal_width=200)
        assert up.exit_code == 0, up.output
        record = stackfile.read(settings.stack.state_dir.resolve())["kafka"]
        assert len(record["pids"]) == 3 and all(process.is_running(p) for p in record["pids"])
        bootstrap = str(record["bootstrap"])
        assert len(bootstrap.split(",")) == 3
        admin = AdminClient({"bootstrap.servers": bootstrap})
        meta = admin.list_topics("stack3.trades", timeout=10)
        assert len(meta.brokers) == 3
        for partition in meta.topics["stack3.trades"].partitions.values():
            assert len(partition.replicas) == 3
        resource = ConfigResource(ConfigResource.Type.TOPIC, "stack3.trades")
        configs = admin.describe_configs([resource])[resource].result(timeout=10)
        assert configs["min.insync.replicas"].value == "2"
    finally:
        down = runner.invoke(app, ["stack", "down"])
    assert down.exit_code == 0, down.output
    assert not any(process.is_running(p) for p in record["pids"])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    shared = Path(tempfile.gettempdir()) / "tickwatch-kafka-libs"
    libs = Path(os.environ.get("TICKWATCH_TEST_KAFKA_LIBS", str(shared)))
    brokers = KafkaCluster(tmp_path_factory.mktemp("kafka-cluster"), 3, libs_dir=libs)
    brokers.start()
    try:
        yield brokers
    finally:
        brokers.stop()


@pytest.fixture
def cluster_settings(
    ch_settings: ClickHouseSettings, cluster: KafkaCluster, tmp_path: Path
) -> Settings:
    prefix = f"c{uuid.uuid4().hex[:8]}"
    kafka = KafkaSettings(
        bootstrap=cluster.bootstrap,
        topic_trades=f"{prefix}.trades",
        topic_quotes=f"{prefix}.quotes",
        topic_bars=f"{prefix}.bars",
        topic_dlq=f"{prefix}.dlq",
        partitions=3,
        replication_factor=3,
        min_insync_replicas=2,
        consumer_group=f"{prefix}-load",
    )
    create_pipeline_topics(kafka, cluster.bootstrap)
    return Settings(
        _env_file=None,
        stack=StackSettings(state_dir=tmp_path / "state"),
        kafka=kafka,
        clickhouse=ch_settings,
    )


class Stream(threading.Thread):
    """Produces TICKS trades at RATE/s with the ingest producer's configuration."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.delivered = 0
        self.errors: list[str] = []
        self.sent = 0

    def run(self) -> None:
        producer = Producer(producer_config(self.settings, self.settings.kafka.bootstrap))
        topic, start = self.settings.kafka.topic_trades, time.monotonic()
        now = int(time.time()) * 10**6
        for i in range(TICKS):
            trade = Trade(f"S{i % 30}", now + i * 1000, 50.0 + i % 7, 1.0, trade_id=f"t{i}")
            producer.produce(
                topic, encode(trade).value, trade.symbol.encode(), on_delivery=self._done
            )
            self.sent = i + 1
            producer.poll(0)
            delay = start + (i + 1) / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        remaining = producer.flush(120)
        if remaining:
            self.errors.append(f"{remaining} messages not delivered after flush")

    def _done(self, err: object, _msg: object) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.errors.append(str(err))


class Watch:
    """The detector's two partition checks feeding one alert state each, run on demand."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        conf: dict[str, str | int | float | bool] = {"bootstrap.servers": bootstrap, "log_level": 0}
        clock = self.clock = SystemClock()
        kinds = (UnderReplicatedCheck, OfflinePartitionsCheck)
        self.checks = [
            kind(
                lambda: AdminClient(conf), bootstrap, topics, timeout_s=5, interval_s=1, clock=clock
            )
            for kind in kinds
        ]
        self.policy = AlertPolicy()
        self.states = {
            c.name: AlertState(c.name, c.name, bootstrap, deque(maxlen=self.policy.flap_window))
            for c in self.checks
        }
        self.events: list[tuple[str, EventKind]] = []

    def step(self) -> None:
        for check in self.checks:  # as the detector runs them: unreachable = UNKNOWN, ignored
            for result in run_check(check, self.clock):
                event = self.states[check.name].observe(result, self.policy)
                if event is not None:
                    self.events.append((check.name, event.kind))

    def until(self, name: str, is_open: bool, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.states[name].open != is_open:
            assert time.monotonic() < deadline, f"{name} open={is_open} not reached: {self.events}"
            self.step()
            time.sleep(1.0)


def _leader(bootstrap: str, topic: str, partition: int) -> int:
    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return int(meta.topics[topic].partitions[partition].leader)


def _probe_topic(bootstrap: str, name: str, broker: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(
        name, num_partitions=1, replica_assignment=[[broker]], config={"min.insync.replicas": "1"}
    )
    for future in admin.create_topics([topic], operation_timeout=30).values():
        future.result(timeout=30)


@pytest.fixture
def loaders() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Load worker processes started by a test; killed afterwards if a test failed early."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)


def _start_loader(
    settings: Settings, tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    env = worker_env(settings)
    log = (tmp_path / "load.log").open("ab")
    argv = [sys.executable, "-m", "pipeline.load_cli"]
    started.append(subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=log, stderr=log))
    return started[-1]


def _finish(stream: Stream, loader: subprocess.Popen[bytes], ch: Client, tmp_path: Path) -> None:
    stream.join(timeout=240)
    assert not stream.is_alive() and stream.errors == [], stream.errors[:5]
    assert stream.delivered == TICKS
    log = tmp_path / "load.log"
    wait_for(lambda: count(ch, "SELECT count() FROM trades") >= TICKS, "the load", timeout_s=180)
    loader.send_signal(signal.SIGTERM)
    assert loader.wait(timeout=60) == 0, log.read_text()[-3000:]
    assert count(ch, "SELECT count() FROM trades") == TICKS
    assert count(ch, "SELECT uniqExact(trade_id) FROM trades") == TICKS
    assert count(ch, "SELECT uniqExact(kafka_partition, kafka_offset) FROM trades") == TICKS


def test_leader_kill_9_mid_stream_loses_and_duplicates_nothing_and_alerts_once(
    cluster: KafkaCluster,
    cluster_settings: Settings,
    ch_client: Client,
    tmp_path: Path,
    loaders: list[subprocess.Popen[bytes]],
) -> None:
    settings = cluster_settings
    bootstrap = cluster.bootstrap
    victim = _leader(bootstrap, settings.kafka.topic_trades, 0)
    probe = settings.kafka.topic_trades + ".probe"
    _probe_topic(bootstrap, probe, victim)
    watch = Watch(bootstrap, [*pipeline_topics(settings.kafka), probe])
    watch.step()
    assert not any(s.open for s in watch.states.values()), watch.events
    loader = _start_loader(settings, tmp_path, loaders)
    stream = Stream(settings)
    stream.start()
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") > 0, "first rows", 90)
    wait_for(lambda: stream.sent >= TICKS // 3, "a third of the stream", 60)
    cluster.node(victim).kill()
    watch.until("kafka_under_replicated", True, timeout_s=90)
    watch.until("kafka_offline_partitions", True, timeout_s=90)
    assert _leader(bootstrap, settings.kafka.topic_trades, 0) not in (victim, -1)
    cluster.node(victim).start()
    watch.until("kafka_under_replicated", False, timeout_s=120)
    watch.until("kafka_offline_partitions", False, timeout_s=120)
    _finish(stream, loader, ch_client, tmp_path)
    for name in ("kafka_under_replicated", "kafka_offline_partitions"):
        kinds = [kind for check, kind in watch.events if check == name]
        assert kinds == [EventKind.OPEN, EventKind.RESOLVE], watch.events


def test_rolling_restart_of_every_broker_loses_and_duplicates_nothing(
    cluster: KafkaCluster,
    cluster_settings: Settings,
    ch_client: Client,
    tmp_path: Path,
    loaders: list[subprocess.Popen[bytes]],
) -> None:
    settings = cluster_settings
    watch = Watch(cluster.bootstrap, pipeline_topics(settings.kafka))
    loader = _start_loader(settings, tmp_path, loaders)
    stream = Stream(settings)
    stream.start()
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") > 0, "first rows", 90)
    assert stream.sent < TICKS  # the restarts begin mid-stream
    for node in cluster.nodes:
        node.stop()  # controlled shutdown: leadership moves first
        node.start()
        watch.until("kafka_under_replicated", False, timeout_s=120)  # caught up before the next
    assert stream.is_alive() or stream.delivered == TICKS
    _finish(stream, loader, ch_client, tmp_path)
