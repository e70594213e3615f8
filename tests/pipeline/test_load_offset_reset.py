"""Offset resets are events (issue 12, finding 5), on the real Kafka and ClickHouse.

Records before the group's committed offset are deleted (``DeleteRecords``, as retention would),
so the committed offset falls outside the log and the consumer is reset to the log start: the
worker logs it, counts it, writes an ``offset_reset`` row to ``ops.pipeline_events``, and the
detector's ``offset_resets`` check turns CRIT. A group whose offsets are gone while ClickHouse
holds its rows gives ``offset_missing`` events.
"""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from monitor.chconn import ClickHouseHandle
from monitor.checks.offset_resets import OffsetResetCheck
from monitor.result import Status
from tests.pipeline.test_load_pipeline import (
    WorkerThread,
    committed,
    count,
    produce,
    trades,
    wait_for,
    with_load,
)
from tickwatch.clients import clickhouse_client
from tickwatch.clock import SystemClock
from tickwatch.settings import KafkaSettings, Settings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def events(client: Client, ops: str) -> list[tuple[str, str, int, int, int]]:
    rows = client.query(
        "SELECT kind, topic, kafka_partition, expected_offset, actual_offset "
        f"FROM {ops}.pipeline_events ORDER BY kafka_partition"
    ).result_rows
    return [tuple(r) for r in rows]


def test_committed_offset_out_of_range_is_an_event_and_an_alert(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    load_settings = with_load(settings)
    topic, ops = load_settings.kafka.topic_trades, load_settings.clickhouse.ops_database
    produce(kafka_bootstrap, topic, trades(300))
    first = WorkerThread(load_settings, kafka_bootstrap)
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") == 300, "the first rows")
    first.stop()
    assert [c[1] for c in committed(load_settings, kafka_bootstrap, topic)] == [100, 100, 100]
    assert events(ch_client, ops) == []  # a normal restart is no event
    produce(kafka_bootstrap, topic, trades(300, start=300))
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.delete_records([TopicPartition(topic, 0, 150)]).values():
        future.result(timeout=30)
    second = WorkerThread(load_settings, kafka_bootstrap)
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") == 550, "the rows left")
    wait_for(lambda: len(events(ch_client, ops)) == 1, "the event row")
    second.stop()
    assert events(ch_client, ops) == [("offset_reset", topic, 0, 100, 150)]
    assert second.sample("tickwatch_load_offset_resets_total", {"topic": topic}) == 1
    ch = load_settings.clickhouse
    handle = ClickHouseHandle(lambda: clickhouse_client(ch, ch.url))
    check = OffsetResetCheck(handle, ops, window_s=900, interval_s=15, clock=SystemClock())
    [result] = check.run()
    assert (result.check, result.target, result.status) == (
        "offset_resets",
        f"{topic}[0]",
        Status.CRIT,
    )
    assert "expected offset 100, got 150" in result.message


def test_a_partition_with_loaded_rows_but_no_committed_offset_is_an_event(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    load_settings = with_load(settings)
    topic, ops = load_settings.kafka.topic_trades, load_settings.clickhouse.ops_database
    produce(kafka_bootstrap, topic, trades(300))
    first = WorkerThread(load_settings, kafka_bootstrap)
    wait_for(lambda: count(ch_client, "SELECT count() FROM trades") == 300, "the first rows")
    first.stop()
    kafka = load_settings.kafka.model_copy(update={"consumer_group": "offsets-gone"})
    assert isinstance(kafka, KafkaSettings)
    forgetful = WorkerThread(load_settings.model_copy(update={"kafka": kafka}), kafka_bootstrap)
    wait_for(lambda: len(events(ch_client, ops)) == 3, "one event per partition")
    forgetful.stop()
    assert events(ch_client, ops) == [("offset_missing", topic, p, 100, -1) for p in range(3)]
    ch = load_settings.clickhouse
    handle = ClickHouseHandle(lambda: clickhouse_client(ch, ch.url))
    check = OffsetResetCheck(handle, ops, window_s=900, interval_s=15, clock=SystemClock())
    assert {r.status for r in check.run()} == {Status.CRIT}
