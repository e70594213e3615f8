"""Corrections and conditions through the real Kafka and the load worker into the real ClickHouse
(issue 13 §4): trades with ineligible conditions and the vendor's cancels and corrections, each
on its own topic, then a second worker replaying everything from offset 0 (a lost commit) — the
candles equal the Python reference computed from the corrected trade set, once."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka.admin import AdminClient

from pipeline.codec import Record
from tickwatch.settings import Settings

from .corrections_reference import corrected, corrections, trades
from .test_corrections_clickhouse import assert_candles_match
from .test_load_pipeline import (
    NOW_US,
    PARTITIONS,
    WorkerThread,
    count,
    produce,
    wait_for,
    wire,
    with_load,
)

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def keyed(records: list[Record]) -> list[tuple[int, bytes]]:
    """Per-symbol partitions, as the ingest worker's key does."""
    return [(int(r.symbol[1:]) % PARTITIONS, wire(r)) for r in records]


def test_corrections_cancels_and_conditions_end_to_end_with_a_replay(
    settings: Settings, kafka_bootstrap: str, ch_client: Client
) -> None:
    # A replay after the group's commits are deleted is cut anew: it deduplicates only when the
    # batches re-form with the same boundaries, i.e. per-partition batches cut by count alone
    # (one INSERT per table cuts on the topic's rows across partitions, which depends on how the
    # polls interleave them; see README "Exactly once into ClickHouse", limits).
    settings = with_load(settings, batch_max_rows=500, batch_scope="partition", batch_min_ms=0)
    kafka = settings.kafka
    ticks = trades(3000, seed=41, start_us=NOW_US)
    fixes = corrections(ticks, seed=42)
    produce(kafka_bootstrap, kafka.topic_corrections, keyed(list(fixes)))
    produce(kafka_bootstrap, kafka.topic_trades, keyed(list(ticks)))
    worker = WorkerThread(settings, kafka_bootstrap)

    def loaded() -> bool:
        return count(ch_client, "SELECT count() FROM trades") == len(ticks) and count(
            ch_client, "SELECT count() FROM trade_corrections"
        ) == len(fixes)

    wait_for(loaded, "trades and corrections")
    worker.stop()
    assert_candles_match(ch_client, corrected(ticks, fixes))

    # The committed offsets are lost: a new worker reads both topics again from the start.
    admin = AdminClient(dict(kafka.client_config(kafka_bootstrap)))
    admin.delete_consumer_groups([kafka.consumer_group])[kafka.consumer_group].result(30)
    again = WorkerThread(settings, kafka_bootstrap)
    consumed = "tickwatch_load_records_consumed_total"

    def replayed() -> bool:
        return again.sample(consumed, {"topic": kafka.topic_trades}) >= len(ticks) and again.sample(
            consumed, {"topic": kafka.topic_corrections}
        ) >= len(fixes)

    wait_for(replayed, "the replay of both topics")
    again.stop()
    assert count(ch_client, "SELECT count() FROM trades") == len(ticks)
    assert count(ch_client, "SELECT count() FROM trade_corrections") == len(fixes)
    assert_candles_match(ch_client, corrected(ticks, fixes))
