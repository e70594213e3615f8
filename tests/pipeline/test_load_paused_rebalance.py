"""A partition revoked while paused is fetched again when it comes back (issue 12, kafka-kill9).

On the real Kafka and ClickHouse: ClickHouse is stopped, so every partition's batch fails and
the worker pauses the partitions (backoff). While they are paused a second member joins the group
(subscribed to another topic, so the worker keeps all its partitions): the eager rebalance revokes
and assigns them again, and the member leaves (a second rebalance). librdkafka keeps an
application's pause across unassign and assign; the worker, which forgets a revoked partition's
state, must not leave them paused. ClickHouse comes back and every message lands exactly once.
"""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer

from tests.pipeline.test_load_pipeline import (
    WorkerThread,
    assert_exactly_once,
    count,
    produce,
    trades,
    wait_for,
    with_load,
)
from tickwatch import migrations
from tickwatch.clients import clickhouse_client
from tickwatch.settings import Settings
from tickwatch.stack.clickhouse_server import ClickHouseServer

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def rebalance_once_more(settings: Settings, bootstrap: str) -> None:
    """A member joins the worker's group on a topic the worker does not read, then leaves."""
    config = settings.kafka.client_config(bootstrap) | {"group.id": settings.kafka.consumer_group}
    member = Consumer(config)
    try:
        member.subscribe([settings.kafka.topic_dlq])

        def joined() -> bool:
            member.consume(1, 0.2)
            return bool(member.assignment())

        wait_for(joined, "the second member's assignment (the worker rejoined)")
    finally:
        member.close()


def test_partitions_paused_by_backoff_and_reassigned_are_loaded_after_the_outage(
    settings: Settings, kafka_bootstrap: str, own_clickhouse: ClickHouseServer
) -> None:
    ch = settings.clickhouse.model_copy(update={"url": own_clickhouse.url})
    load_settings = with_load(settings.model_copy(update={"clickhouse": ch}))
    migrations.apply(clickhouse_client(ch, ch.url), ch)
    client = clickhouse_client(ch, ch.url, database=ch.market_database)
    topic = load_settings.kafka.topic_trades
    produce(kafka_bootstrap, topic, trades(300))
    worker = WorkerThread(load_settings, kafka_bootstrap)
    wait_for(lambda: count(client, "SELECT count() FROM trades") == 300, "the first rows")
    own_clickhouse.stop()
    produce(kafka_bootstrap, topic, trades(300, start=300))
    wait_for(lambda: worker.sample("tickwatch_load_paused_partitions") == 3, "paused partitions")
    rebalance_once_more(load_settings, kafka_bootstrap)
    own_clickhouse.start()
    produce(kafka_bootstrap, topic, trades(300, start=600))
    wait_for(lambda: count(client, "SELECT count() FROM trades") >= 900, "all rows")
    worker.stop()
    assert_exactly_once(client, 900)
    assert worker.sample("tickwatch_load_paused_partitions") == 0
