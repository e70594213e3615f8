"""The load consumer fetch settings (issue 18): reach librdkafka, bad values stop start-up, and
on the real broker a record far below ``fetch.min.bytes`` still arrives (the wait answers)."""

from __future__ import annotations

import pytest

from pipeline.load_cli import fetch_config
from tickwatch.settings import ConfigError, KafkaSettings, LoadSettings, load_settings

DELIVERY_LIMIT_S = 20.0


def test_defaults_let_the_broker_hold_a_fetch_for_4_kb_or_200_ms() -> None:
    assert fetch_config(LoadSettings()) == {"fetch.min.bytes": 4_096, "fetch.wait.max.ms": 200}


@pytest.mark.kafka
def test_a_lone_small_record_arrives_with_the_default_fetch_settings(
    kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    from confluent_kafka import Consumer, Producer, TopicPartition

    conf = kafka_settings.client_config(kafka_bootstrap)
    topic = kafka_settings.topic_trades
    producer = Producer(conf)
    producer.produce(topic, b"before", partition=0)  # the partition exists and has a leader
    assert producer.flush(10) == 0
    consumer = Consumer({**conf, "group.id": "fetch-config-test", **fetch_config(LoadSettings())})
    _, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    consumer.assign([TopicPartition(topic, 0, end)])
    producer.produce(topic, b"tiny", partition=0)
    assert producer.flush(10) == 0
    got = consumer.consume(1, DELIVERY_LIMIT_S)
    consumer.close()
    assert [m.value() for m in got if m.error() is None] == [b"tiny"]


def test_configured_values_reach_the_consumer_config() -> None:
    settings = load_settings(_env_file=None, load={"fetch_min_bytes": 1, "fetch_wait_max_ms": 20})
    assert fetch_config(settings.load) == {"fetch.min.bytes": 1, "fetch.wait.max.ms": 20}


@pytest.mark.parametrize(
    ("key", "value"),
    [("fetch_wait_max_ms", 0), ("fetch_wait_max_ms", 5_000), ("fetch_min_bytes", 0)],
)
def test_bad_values_stop_at_start_up_naming_the_key(key: str, value: int) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(_env_file=None, load={key: value})
