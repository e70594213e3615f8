"""The ingest worker against the real Kafka broker: read back, SIGTERM flush, full queue."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from pipeline.codec import RawMessage
from pipeline.ingest import IngestWorker
from pipeline.producer import TickProducer, producer_config
from pipeline.topics import record_topics
from tickwatch.settings import KafkaSettings, Settings
from tickwatch.telemetry.catalog import IngestMetrics

from .ingest_helpers import FiniteSimulator, read_back

pytestmark = pytest.mark.kafka
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(kafka_settings: KafkaSettings) -> Settings:
    """Settings pointed at this test's topics; needs no ClickHouse."""
    return Settings(_env_file=None, kafka=kafka_settings)


def run_worker(
    settings: Settings, source: FiniteSimulator, **producer_extra: int
) -> tuple[IngestWorker, TickProducer]:
    metrics = IngestMetrics(CollectorRegistry())
    config = producer_config(settings, settings.kafka.bootstrap, **producer_extra)
    producer = TickProducer(Producer, config, record_topics(settings.kafka), metrics, "simulator")
    worker = IngestWorker(source, producer, metrics, flush_timeout_s=30.0)
    result = asyncio.run(worker.run())
    assert result.clean, result
    return worker, producer


def test_records_come_back_with_keys_counts_and_per_symbol_order(settings: Settings) -> None:
    source = FiniteSimulator(20_000, rate=20_000, symbols=30, anomalies="malformed:0.001")
    run_worker(settings, source)
    messages = read_back(settings.kafka, 20_000)
    assert len(messages) == 20_000
    topics = record_topics(settings.kafka)
    expected: dict[tuple[str, bytes], list[bytes]] = defaultdict(list)
    for item in source.sent:
        key = item.key if isinstance(item, RawMessage) else item.symbol.encode()
        ident = _ident_of(item.value) if isinstance(item, RawMessage) else _ident(item.ts, item)
        expected[(topics[item.kind], key)].append(ident)
    got: dict[tuple[str, bytes], list[bytes]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.topic(), m.partition(), m.offset())):
        got[(message.topic(), message.key())].append(_ident_of(message.value()))
    assert got == expected  # same keys, same counts, same order per symbol and topic


def _ident(ts: int, item: object) -> bytes:
    return f"{ts}:{getattr(item, 'trade_id', '')}:{type(item).__name__}".encode()


def _ident_of(value: bytes) -> bytes:
    try:
        body = orjson.loads(value)
        kind = {"trade": "Trade", "quote": "Quote", "bar": "Bar"}[body["type"]]
        return f"{body['ts']}:{body.get('trade_id', '')}:{kind}".encode()
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return value  # a malformed message comes back as the bytes we sent


def test_full_producer_queue_waits_and_drops_nothing(settings: Settings) -> None:
    source = FiniteSimulator(30_000, rate=100_000, symbols=10)
    _, producer = run_worker(settings, source, **{"queue.buffering.max.messages": 200})
    assert producer.queue_full_waits > 0  # the queue was full, and we waited
    assert producer.delivered == 30_000 and producer.failed == 0
    assert len(read_back(settings.kafka, 30_000)) == 30_000


def test_sigterm_flushes_everything_and_exits_cleanly(settings: Settings, tmp_path: Path) -> None:
    kafka = settings.kafka
    child = subprocess.Popen(
        [sys.executable, "-m", "tickwatch", "ingest"],
        cwd=tmp_path,
        env=_child_env(kafka, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        producing = len(read_back(kafka, 2_000, timeout_s=120.0)) >= 2_000
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert producing, output.decode()
    text = output.decode()
    assert child.returncode == 0, text
    stopped = re.search(
        r"read=(\d+), enqueued=(\d+), delivered=(\d+), failed=0, undelivered=0", text
    )
    assert stopped, text
    read, enqueued, delivered = map(int, stopped.groups())
    assert read == enqueued == delivered
    assert len(read_back(kafka, delivered)) == delivered


def _child_env(kafka: KafkaSettings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKWATCH_")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "TICKWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
            "TICKWATCH_KAFKA_TOPIC_TRADES": kafka.topic_trades,
            "TICKWATCH_KAFKA_TOPIC_QUOTES": kafka.topic_quotes,
            "TICKWATCH_KAFKA_TOPIC_BARS": kafka.topic_bars,
            "TICKWATCH_KAFKA_TOPIC_CORRECTIONS": kafka.topic_corrections,
            "TICKWATCH_KAFKA_PARTITIONS": str(kafka.partitions),
            "TICKWATCH_STACK_STATE_DIR": str(tmp_path / "state"),
            "TICKWATCH_INGEST_RATE": "20000",
            "TICKWATCH_INGEST_METRICS_PORT": "0",
            "TICKWATCH_TELEMETRY_ENABLED": "false",
        }
    )
    return env
