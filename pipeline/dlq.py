"""The dead-letter queue: rejected messages, kept with why and where they came from.

A rejected message goes two places: the Kafka topic ``settings.kafka.topic_dlq`` (same key and
value, the reason and the original coordinates in headers) and ClickHouse ``{ops}.dead_letters``
(:func:`dead_letter_columns`, inserted by the load worker with the batch's deduplication token,
so it lands there exactly once). The Kafka copy is at least once: a batch replayed after a crash
produces its dead letters again, and :meth:`DeadLetterQueue.flush` must return True before the
offsets past them are committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

DEAD_LETTER_COLUMNS = (
    "time",
    "topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_time",
    "key",
    "reason",
    "detail",
    "payload",
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One rejected message and where it was in Kafka."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    reason: str
    detail: str

    def headers(self) -> list[tuple[str, str | bytes | None]]:
        """Kafka headers of the DLQ copy: the reason and the original coordinates."""
        return [
            ("reason", self.reason.encode()),
            ("detail", self.detail.encode()),
            ("original_topic", self.topic.encode()),
            ("original_partition", str(self.partition).encode()),
            ("original_offset", str(self.offset).encode()),
            ("original_timestamp", str(self.timestamp_ms).encode()),
        ]


def dead_letter_columns(letters: list[DeadLetter], time_us: int) -> list[list[Any]]:
    """Column-oriented data for ``{ops}.dead_letters`` in :data:`DEAD_LETTER_COLUMNS` order."""
    return [
        [time_us] * len(letters),
        [d.topic for d in letters],
        [d.partition for d in letters],
        [d.offset for d in letters],
        [d.timestamp_ms for d in letters],
        [d.key or b"" for d in letters],
        [d.reason for d in letters],
        [d.detail for d in letters],
        [d.value or b"" for d in letters],
    ]


class DeadLetterQueue:
    """Produces dead letters to the DLQ topic and reports whether all of them were delivered."""

    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self._failed = 0

    def send(self, letters: list[DeadLetter]) -> None:
        """Queue ``letters`` for delivery; blocks only while the producer's queue is full."""
        for letter in letters:
            self._produce(letter)

    def flush(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) for every queued letter; True if all were delivered."""
        remaining = self._producer.flush(timeout_s)
        ok = remaining == 0 and self._failed == 0
        self._failed = 0
        return ok

    def close(self, timeout_s: float) -> None:
        self._producer.flush(timeout_s)

    def _produce(self, letter: DeadLetter) -> None:
        while True:
            try:
                self._producer.produce(
                    self._topic,
                    letter.value,
                    letter.key,
                    headers=letter.headers(),
                    on_delivery=self._delivered,
                )
                return
            except BufferError:
                self._producer.poll(0.1)

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._failed += 1
