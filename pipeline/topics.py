"""The pipeline's record topics, typed: which Kafka topic carries which :class:`RecordType`.

The map itself is stated once, in the kernel (:func:`tickwatch.topics.record_topic_names`);
this module only gives it the pipeline's record types. Creating topics is in
:mod:`tickwatch.topics`.
"""

from __future__ import annotations

from pipeline.codec import RecordType
from tickwatch.settings import KafkaSettings
from tickwatch.topics import record_topic_names


def record_topics(kafka: KafkaSettings) -> dict[RecordType, str]:
    """The Kafka topic each record type is written to."""
    return {RecordType(kind): topic for kind, topic in record_topic_names(kafka).items()}


def record_types(kafka: KafkaSettings) -> dict[str, RecordType]:
    """Topic name -> the record type it carries (the inverse of :func:`record_topics`)."""
    return {topic: kind for kind, topic in record_topics(kafka).items()}
