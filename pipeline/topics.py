"""The pipeline's Kafka topics: one per record type, plus the dead-letter queue.

:func:`record_topics` is the one place that says which topic carries which record type; every
other view of it (the inverse, the full list, creating them) is derived from it.
"""

from __future__ import annotations

from pipeline.records import RecordType
from tickwatch.settings import KafkaSettings
from tickwatch.stack.topics import create_topics


def record_topics(kafka: KafkaSettings) -> dict[RecordType, str]:
    """The Kafka topic each record type is written to."""
    return {
        RecordType.TRADE: kafka.topic_trades,
        RecordType.QUOTE: kafka.topic_quotes,
        RecordType.BAR: kafka.topic_bars,
    }


def record_types(kafka: KafkaSettings) -> dict[str, RecordType]:
    """Topic name -> the record type it carries (the inverse of :func:`record_topics`)."""
    return {topic: kind for kind, topic in record_topics(kafka).items()}


def pipeline_topics(kafka: KafkaSettings) -> list[str]:
    """Every topic the pipeline uses: the record topics, then the dead-letter queue."""
    return [*record_topics(kafka).values(), kafka.topic_dlq]


def create_pipeline_topics(
    kafka: KafkaSettings,
    bootstrap: str,
    *,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create the pipeline's topics that do not exist yet; returns the names actually created.

    Partitions come from ``kafka.partitions``, replication from ``replication_factor`` or else
    ``kafka.replication_factor``; ``min.insync.replicas`` from ``min_insync_replicas`` or else
    ``kafka.min_insync_replicas`` (0: the broker's default). Topics that already exist are left
    as they are. Blocks up to
    ``timeout_s`` per request; raises :class:`~tickwatch.stack.errors.StackError` naming the
    topic when Kafka refuses or does not answer.
    """
    if replication_factor is None:
        replication_factor = kafka.replication_factor
    if min_insync_replicas is None:
        min_insync_replicas = kafka.min_insync_replicas
    topic = {"min.insync.replicas": str(min_insync_replicas)} if min_insync_replicas else {}
    config = kafka.client_config(bootstrap)
    names = pipeline_topics(kafka)
    return create_topics(
        config, names, kafka.partitions, replication_factor, timeout_s, topic_config=topic
    )
