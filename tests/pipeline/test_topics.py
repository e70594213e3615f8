"""The pipeline's topics: one map from record type to topic, and creating them all."""

from __future__ import annotations

import pytest
from confluent_kafka.admin import AdminClient

from pipeline.codec import RecordType
from pipeline.topics import record_topics, record_types
from tickwatch.settings import KafkaSettings
from tickwatch.topics import TopicAdminError, create_pipeline_topics, pipeline_topics


def test_each_topic_carries_one_record_type() -> None:
    kafka = KafkaSettings(
        topic_trades="a", topic_quotes="b", topic_bars="c", topic_corrections="e", topic_dlq="d"
    )
    assert record_topics(kafka) == {
        RecordType.TRADE: "a",
        RecordType.QUOTE: "b",
        RecordType.BAR: "c",
        RecordType.CORRECTION: "e",
    }
    assert record_types(kafka) == {
        "a": RecordType.TRADE,
        "b": RecordType.QUOTE,
        "c": RecordType.BAR,
        "e": RecordType.CORRECTION,
    }
    assert pipeline_topics(kafka) == ["a", "b", "c", "e", "d"]


def test_unreachable_kafka_is_a_clear_error() -> None:
    kafka = KafkaSettings(bootstrap="127.0.0.1:1")
    with pytest.raises(TopicAdminError, match=r"ticks\.trades"):
        create_pipeline_topics(kafka, kafka.bootstrap, timeout_s=1.0)


@pytest.mark.kafka
def test_every_pipeline_topic_exists_with_the_configured_partitions(
    kafka_settings: KafkaSettings,
) -> None:
    """The ``kafka_settings`` fixture created them; a second run finds them all there."""
    assert create_pipeline_topics(kafka_settings, kafka_settings.bootstrap) == []
    admin = AdminClient({"bootstrap.servers": kafka_settings.bootstrap})
    topics = admin.list_topics(timeout=10).topics
    for name in pipeline_topics(kafka_settings):
        assert len(topics[name].partitions) == kafka_settings.partitions
