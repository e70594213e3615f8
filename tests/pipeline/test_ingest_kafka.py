"""The ingest worker against the real Kafka broker: read back, SIGTERM flush, full queue, and
the low-rate hold's records at the end of a source and at a SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from pipeline.codec import RawMessage
from pipeline.ingest import IngestWorker
from pipeline.ingest_hold import HeldRead, LowRateHold
from pipeline.producer import TickProducer, producer_config
from pipeline.topics import record_topics
from tickwatch.clock import SYSTEM_CLOCK
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
    settings: Settings,
    source: FiniteSimulator,
    *,
    hold: LowRateHold | None = None,
    producer_extra: dict[str, int] | None = None,
) -> tuple[IngestWorker, TickProducer]:
    metrics = IngestMetrics(CollectorRegistry())
    config = producer_config(settings, settings.kafka.bootstrap, **(producer_extra or {}))
    producer = TickProducer(Producer, config, record_topics(settings.kafka), metrics, "simulator")
    worker = IngestWorker(source, producer, metrics, flush_timeout_s=30.0, hold=hold)
    result = asyncio.run(worker.run())
    assert result.clean, result
    return worker, producer


def test_records_come_back_with_keys_counts_and_per_symbol_order(settings: Settings) -> None:
    source = FiniteSimulator(20_000, rate=20_000, symbols=30, anomalies="malformed:0.001")
    run_worker(settings, source)
    _assert_same_records(settings, source, read_back(settings.kafka, 20_000))


def test_held_records_reach_kafka_in_order_when_a_finite_source_ends(settings: Settings) -> None:
    """200 records: below the hold's rate for the whole run, so every read is kept (60 s hold)
    until the source ends; the final flush hands them over."""
    source = FiniteSimulator(200, rate=200, symbols=30)
    hold = _RecordingHold(250.0, 60.0, 50_000, SYSTEM_CLOCK)
    _, producer = run_worker(settings, source, hold=hold)
    assert hold.most_held == 200  # every record was kept until the end
    assert producer.delivered == 200
    _assert_same_records(settings, source, read_back(settings.kafka, 200))


class _RecordingHold(LowRateHold):
    most_held = 0

    def offer(self, read: HeldRead, queued: int) -> list[HeldRead]:
        out = super().offer(read, queued)
        self.most_held = max(self.most_held, self.held_records)
        return out


def _assert_same_records(settings: Settings, source: FiniteSimulator, messages: list[Any]) -> None:
    assert len(messages) == len(source.sent)
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
    _, producer = run_worker(settings, source, producer_extra={"queue.buffering.max.messages": 200})
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


def test_sigterm_hands_held_records_over_and_flushes_them(
    settings: Settings, tmp_path: Path
) -> None:
    """100 ticks/s with a 5 s hold: a SIGTERM a second after the worker started finds reads
    kept (the first hand-over is due 5 s after the first read); they all reach Kafka."""
    kafka = settings.kafka
    env = _child_env(kafka, tmp_path) | {
        "TICKWATCH_INGEST_RATE": "100",
        "TICKWATCH_INGEST_HOLD_MS": "5000",
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "tickwatch", "ingest"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[bytes] = []
    try:
        assert child.stdout is not None
        for line in child.stdout:  # ends with the child's output if it never starts
            lines.append(line)
            if b"ingest started" in line:
                break
        time.sleep(1.0)
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    text = b"".join(lines).decode() + output.decode()
    assert child.returncode == 0, text
    held = re.search(r"handing (\d+) held records to the producer", text)
    assert held and int(held.group(1)) > 0, text
    stopped = re.search(
        r"read=(\d+), enqueued=(\d+), delivered=(\d+), failed=0, undelivered=0", text
    )
    assert stopped, text
    read, enqueued, delivered = map(int, stopped.groups())
    assert read == enqueued == delivered > 0
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
