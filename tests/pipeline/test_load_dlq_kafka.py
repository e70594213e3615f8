"""A ~1 MB invalid message on the real Kafka (issue 12, finding 1): the broker takes it, its
dead-letter copy would not fit the DLQ producer's ``message.max.bytes``; the worker must carry on
and keep the dead letter, truncated, with the original's length and SHA-256."""

from __future__ import annotations

import hashlib

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.pipeline.test_load_pipeline import (
    WorkerThread,
    committed,
    count,
    produce,
    trades,
    wait_for,
    with_load,
)
from tickwatch.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

HUGE = 1_000_000


def test_a_1_mb_invalid_message_is_dead_lettered_truncated_and_the_worker_continues(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    load_settings = with_load(settings)
    kafka, ops = load_settings.kafka, load_settings.clickhouse.ops_database
    value = b'{"v": 1, "type": "trade", "symbol": "' + b"A" * (HUGE - 40) + b'"}'
    big = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 2 * HUGE})
    big.produce(kafka.topic_trades, value, b"k", partition=0)
    assert big.flush(30) == 0
    produce(kafka_bootstrap, kafka.topic_trades, trades(300))
    worker = WorkerThread(load_settings, kafka_bootstrap)
    dead = f"SELECT count() FROM {ops}.dead_letters"
    wait_for(
        lambda: (
            count(ch_client, "SELECT count() FROM trades") == 300 and count(ch_client, dead) > 0
        ),
        "the trades and the dead letter",
    )
    wait_for(
        lambda: committed(load_settings, kafka_bootstrap, kafka.topic_trades)[0][1] == 101,
        "the commit past the huge message",
    )
    worker.stop()
    digest = hashlib.sha256(value).hexdigest()
    [(offset, reason, detail, stored)] = ch_client.query(
        f"SELECT kafka_offset, reason, detail, length(payload) FROM {ops}.dead_letters"
    ).result_rows
    assert (offset, reason) == (0, "missing_field")
    assert f"of {len(value)} bytes, sha256 {digest}" in detail
    assert stored == load_settings.load.dlq_max_payload_bytes
    headers, length = read_one(kafka_bootstrap, kafka.topic_dlq)
    assert headers["reason"] == b"missing_field"
    assert headers["original_length"] == str(len(value)).encode()
    assert headers["original_sha256"] == digest.encode()
    assert length == load_settings.load.dlq_max_payload_bytes
    assert worker.sample("tickwatch_load_dlq_truncated_total") == 1


def read_one(bootstrap: str, topic: str) -> tuple[dict[str, bytes], int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlq-reader"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    try:
        for _ in range(60):
            for message in consumer.consume(10, 0.5):
                if message.error() is None:
                    pairs = list(message.headers() or [])
                    found = {str(k): v if isinstance(v, bytes) else b"" for k, v in pairs}
                    return found, len(message.value() or b"")
        raise AssertionError("no dead letter on the DLQ topic")
    finally:
        consumer.close()
