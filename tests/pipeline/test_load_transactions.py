"""Transactional record topics on the real Kafka and ClickHouse: gaps are no offset resets.

The replay source and the backfill produce with Kafka transactions, so a record topic holds a
commit/abort marker after every transaction, and the records of aborted ones. The load worker
reads ``read_committed``: it skips both, sees forward gaps in the offsets, and must load every
committed record exactly once with no ``offset_reset`` event — also when its committed offset
(``last + 1`` after a batch) points at a marker when it starts again.
"""

from __future__ import annotations

import uuid

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, Producer, TopicPartition

from tests.pipeline.test_load_pipeline import (
    PARTITIONS,
    WorkerThread,
    assert_exactly_once,
    committed,
    count,
    trades,
    wait_for,
    with_load,
)
from tickwatch.settings import Settings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


class Transactions:
    """A transactional producer; :meth:`send` returns the committed (partition, offset)s."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._topic = topic
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "transactional.id": f"txgaps-{uuid.uuid4()}"}
        )
        self._producer.init_transactions(30)

    def send(self, values: list[tuple[int, bytes]], *, commit: bool) -> set[tuple[int, int]]:
        delivered: set[tuple[int, int]] = set()

        def record(err: object, msg: object) -> None:
            assert err is None, err
            delivered.add((msg.partition(), msg.offset()))  # type: ignore[attr-defined]

        self._producer.begin_transaction()
        for partition, value in values:
            self._producer.produce(
                self._topic, value, b"k", partition=partition, on_delivery=record
            )
        assert self._producer.flush(30) == 0
        if commit:
            self._producer.commit_transaction(30)
            return delivered
        self._producer.abort_transaction(30)
        return set()


def high_watermarks(bootstrap: str, topic: str) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "txgaps-watermarks"})
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return [consumer.get_watermark_offsets(tp, timeout=10, cached=False)[1] for tp in tps]
    finally:
        consumer.close()


def loaded(client: Client) -> set[tuple[int, int]]:
    rows = client.query("SELECT kafka_partition, kafka_offset FROM trades").result_rows
    return {(int(p), int(o)) for p, o in rows}


def reset_events(client: Client, ops: str) -> int:
    return count(client, f"SELECT count() FROM {ops}.pipeline_events WHERE kind = 'offset_reset'")


def test_committed_and_aborted_transactions_load_exactly_once_with_no_reset_event(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    load_settings = with_load(settings)
    topic, ops = load_settings.kafka.topic_trades, load_settings.clickhouse.ops_database
    tx = Transactions(kafka_bootstrap, topic)
    expected = tx.send(trades(90), commit=True)
    tx.send(trades(60, start=90), commit=False)  # what a producer killed with -9 leaves behind
    expected |= tx.send(trades(90, start=150), commit=True)
    first = WorkerThread(load_settings, kafka_bootstrap)
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") == 180, "the first rows")
    first.stop()
    assert reset_events(ch_client, ops) == 0  # the aborted records and the markers were skipped
    # each partition's committed offset is the one after its last record: the commit marker
    marks = high_watermarks(kafka_bootstrap, topic)
    assert [c[1] for c in committed(load_settings, kafka_bootstrap, topic)] == [
        m - 1 for m in marks
    ]
    assert (
        first.sample("tickwatch_load_offset_gaps_total", {"topic": topic, "reason": "transaction"})
        >= PARTITIONS
    )

    expected |= tx.send(trades(90, start=240), commit=True)
    second = WorkerThread(load_settings, kafka_bootstrap)
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") == 270, "the later rows")
    second.stop()
    assert_exactly_once(ch_client, 270)
    assert loaded(ch_client) == expected
    assert reset_events(ch_client, ops) == 0
    for worker in (first, second):
        assert worker.sample("tickwatch_load_offset_resets_total", {"topic": topic}) == 0
    # at assignment: committed offset on the marker, first message after it
    labels = {"topic": topic, "reason": "transaction"}
    assert second.sample("tickwatch_load_offset_gaps_total", labels) >= PARTITIONS
