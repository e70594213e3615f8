"""The dead-letter queue: rejected messages, kept with why and where they came from.

A rejected message goes two places: the Kafka topic ``settings.kafka.topic_dlq`` (same key and
value, the reason and the original coordinates in headers) and ClickHouse ``{ops}.dead_letters``
(:func:`dead_letter_columns`, inserted by the load worker with the batch's deduplication token,
so it lands there exactly once). The Kafka copy is at least once: a batch replayed after a crash
produces its dead letters again, and :meth:`DeadLetterQueue.flush` must return True before the
offsets past them are committed.

The dead-letter queue never takes the worker down:

* a payload over ``load.dlq_max_payload_bytes`` (or a key over :data:`KEY_MAX_BYTES`) is stored
  truncated, with its original length and the SHA-256 of the original value (headers
  ``original_length``, ``original_sha256``, ``truncated``; the ClickHouse row says the same at the
  end of ``detail``), so the copy always fits the producer's ``message.max.bytes``;
* a produce or delivery error is counted (``tickwatch_load_dlq_errors_total{kind}``) and never
  raised. A transient one (broker away, queue full, timeout) makes :meth:`flush` return False, so
  the batch is retried with backoff; a permanent one (the broker refuses this message for good)
  drops the Kafka copy — the row in ``{ops}.dead_letters``, written before, is the record — and
  the stream moves on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from loguru import logger

from tickwatch.clock import Clock, SystemClock
from tickwatch.telemetry.catalog import LoadMetrics

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
KEY_MAX_BYTES = 1024
QUEUE_FULL_WAIT_S = 5.0  # at most this long in one send() waiting for room in the queue
# The broker (or librdkafka) refuses this very message whatever happens next.
PERMANENT_PRODUCE_ERRORS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_RECORD,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError._INVALID_ARG,
        KafkaError._BAD_MSG,
    }
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One rejected message and where it was in Kafka.

    ``original_length`` / ``original_sha256`` are set when ``value`` was truncated
    (:func:`bounded`).
    """

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    reason: str
    detail: str
    original_length: int | None = None
    original_sha256: str = ""

    def headers(self) -> list[tuple[str, str | bytes | None]]:
        """Kafka headers of the DLQ copy: the reason and the original coordinates."""
        headers: list[tuple[str, str | bytes | None]] = [
            ("reason", self.reason.encode()),
            ("detail", self.detail.encode()),
            ("original_topic", self.topic.encode()),
            ("original_partition", str(self.partition).encode()),
            ("original_offset", str(self.offset).encode()),
            ("original_timestamp", str(self.timestamp_ms).encode()),
        ]
        if self.original_length is not None:
            headers += [
                ("truncated", b"true"),
                ("original_length", str(self.original_length).encode()),
                ("original_sha256", self.original_sha256.encode()),
            ]
        return headers


def bounded(letter: DeadLetter, max_bytes: int) -> DeadLetter:
    """``letter`` with its value cut to ``max_bytes`` (and its key to :data:`KEY_MAX_BYTES`),
    noting the original length and SHA-256 of the value; unchanged when it fits."""
    value, key = letter.value or b"", letter.key or b""
    if len(value) <= max_bytes and len(key) <= KEY_MAX_BYTES:
        return letter
    digest = hashlib.sha256(value).hexdigest()
    kept = min(len(value), max_bytes)
    note = f" [payload truncated to {kept} of {len(value)} bytes, sha256 {digest}]"
    return replace(
        letter,
        value=value[:max_bytes],
        key=key[:KEY_MAX_BYTES],
        detail=letter.detail + note,
        original_length=len(value),
        original_sha256=digest,
    )


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

    def __init__(
        self,
        producer: Producer,
        topic: str,
        metrics: LoadMetrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._metrics = metrics
        self._clock = clock or SystemClock()
        self._failed = 0

    def send(self, letters: list[DeadLetter]) -> None:
        """Queue ``letters`` for delivery. Never raises; blocks at most
        :data:`QUEUE_FULL_WAIT_S` per letter while the producer's queue is full."""
        for letter in letters:
            self._produce(letter)

    def flush(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) for every queued letter; True if none failed for a
        transient reason (permanent failures were counted and dropped)."""
        remaining = self._producer.flush(timeout_s)
        ok = remaining == 0 and self._failed == 0
        self._failed = 0
        return ok

    def close(self, timeout_s: float) -> None:
        self._producer.flush(timeout_s)

    def _produce(self, letter: DeadLetter) -> None:
        deadline = self._clock.monotonic() + QUEUE_FULL_WAIT_S
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
                if self._clock.monotonic() >= deadline:
                    self._failure("produce", KafkaError(KafkaError._QUEUE_FULL), letter)
                    return
                self._producer.poll(0.1)
            except KafkaException as exc:
                self._failure("produce", _kafka_error(exc), letter)
                return

    def _delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._failure("delivery", error, None)

    def _failure(self, kind: str, error: KafkaError, letter: DeadLetter | None) -> None:
        where = f" ({letter.topic}[{letter.partition}]@{letter.offset})" if letter else ""
        if error.code() in PERMANENT_PRODUCE_ERRORS:
            kind = "dropped"
            logger.error("dead letter{} refused by Kafka for good, not retried: {}", where, error)
        else:
            self._failed += 1
            logger.warning("dead letter{} not delivered ({}), will retry: {}", where, kind, error)
        if self._metrics is not None:
            self._metrics.dlq_error(kind)


def _kafka_error(exc: KafkaException) -> KafkaError:
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, KafkaError) else KafkaError(KafkaError._FAIL, str(exc))
