"""The decode step: Kafka messages -> validated rows or dead letters, placed in their batches."""

from __future__ import annotations

from collections import Counter
from typing import cast

import pyarrow as pa
from confluent_kafka import KafkaError, Message
from loguru import logger

from pipeline.codec import RecordType, ValidationRules, decode, validate
from pipeline.codec.columnar import decode_poll
from pipeline.dlq import DeadLetter, bounded
from pipeline.errors import FatalError, InvalidMessage
from pipeline.load.batch import Batch, Batcher
from tickwatch.clock import Clock
from tickwatch.telemetry.catalog import LoadMetrics

DLQ_MAX_BYTES = 262_144  # load.dlq_max_payload_bytes
COLUMNAR_MIN_MESSAGES = 100
"""A topic's messages in one poll are decoded as columns from this many on; fewer go to the
per-message path, which gives the same rows and dead letters (the columnar path's contract) and
is cheaper there: the columnar path costs about 1 ms of Arrow calls per topic and poll whatever
the count, the per-message path about 5 µs a message (issue 18: at 200 ticks/s, 10 polls a second
of ~13 trades and ~7 quotes each, that fixed cost was most of the load worker's idle CPU)."""


class MessageDecoder:
    """Decodes and validates messages of the topics in ``kinds`` (topic -> record type)."""

    def __init__(
        self,
        kinds: dict[str, RecordType],
        rules: ValidationRules,
        clock: Clock,
        metrics: LoadMetrics,
        dlq_max_bytes: int = DLQ_MAX_BYTES,
        *,
        columnar_min: int = COLUMNAR_MIN_MESSAGES,
    ) -> None:
        self._kinds = kinds
        self._columnar_min = columnar_min
        self._rules = rules
        self._clock = clock
        self._metrics = metrics
        self._dlq_max_bytes = dlq_max_bytes
        self.newest: dict[tuple[str, int], tuple[int, int]] = {}

    def add(self, messages: list[Message], batcher: Batcher, *, side: bool = False) -> int:
        """Put every message in its partition's open batch; return how many were taken.

        The values of each topic are decoded and validated together, as columns
        (:func:`pipeline.codec.columnar.decode_poll`), when the poll holds at least
        ``columnar_min`` of them (:data:`COLUMNAR_MIN_MESSAGES`); a message that path does not
        accept, or of a topic with fewer, is decoded alone (:func:`~pipeline.codec.decode`,
        :func:`~pipeline.codec.validate`), which either accepts it or names the reason. A message
        that fails becomes a :class:`DeadLetter` in the same batch, so it is committed together
        with its neighbours; a payload over ``dlq_max_bytes`` is kept truncated
        (:func:`pipeline.dlq.bounded`).
        Re-delivered messages (offset already batched) are skipped. Raises :class:`FatalError`
        on a fatal consumer error. Afterwards :attr:`newest` holds each partition's newest
        (offset, Kafka time in ms).

        ``side``: the messages are a recorded group's member that another worker owns, re-read
        with the side consumer (:mod:`pipeline.load.ranges`); they are counted as side reads,
        not as consumed messages or dead letters (their owner counts those).
        """
        self.newest = newest = {}
        now_us = int(self._clock.time() * 1e6)
        dead: Counter[str] = Counter()
        skipped: Counter[str] = Counter()  # re-delivered, or of a partition not assigned
        good = [m for m in messages if not self._consumer_error(m)]
        topics = [m.topic() for m in good]
        stamps = [m.timestamp()[1] for m in good]
        columns, rows = self._decode_columns(good, topics, stamps, now_us)
        partitions = batcher.partitions
        open_batch, added = batcher.open_batch, batcher.added
        # One pass in Python per message: names bound once, each coordinate read once.
        for message, topic, timestamp_ms, row in zip(good, topics, stamps, rows, strict=True):
            partition, offset = message.partition(), message.offset()
            if topic is None or partition is None or offset is None:
                raise FatalError(f"message without coordinates: {topic}[{partition}]@{offset}")
            key = (topic, partition)
            batch = open_batch(key, offset) if key in partitions else None
            if batch is None:
                skipped[topic] += 1
                continue
            newest[key] = (offset, timestamp_ms)
            if row >= 0:
                batch.rows.take(columns[topic], row, timestamp_ms, offset)
            else:
                dead[topic] += self._one(message, key, offset, batch, now_us, side=side)
            added(key)
        # Counted in C, not once per message in the loop; no topic is None past the loop.
        per_topic = Counter(cast("list[str]", topics))
        per_topic.subtract(skipped)
        for topic, n in per_topic.items():
            if not n:
                continue
            if side:
                self._metrics.side_read(topic, "row", n - dead[topic])
                self._metrics.side_read(topic, "dead_letter", dead[topic])
            else:
                self._metrics.records_consumed(topic, n)
        return len(good) - skipped.total()

    def _decode_columns(
        self, messages: list[Message], topics: list[str | None], stamps: list[int], now_us: int
    ) -> tuple[dict[str, list[pa.Array]], list[int]]:
        """Per topic, the accepted rows as Arrow arrays; per message, its row in them (-1: none,
        also for every message of a topic with fewer than ``columnar_min`` in this poll).
        ``topics`` and ``stamps`` are the messages' topics and Kafka times (ms)."""
        by_topic: dict[str, list[int]] = {}
        for i, topic in enumerate(topics):
            by_topic.setdefault(topic or "", []).append(i)
        columns: dict[str, list[pa.Array]] = {}
        rows = [-1] * len(messages)
        for topic, group in by_topic.items():
            kind = self._kinds.get(topic)
            if kind is None or len(group) < self._columnar_min:
                continue
            if len(group) == len(messages):  # one topic in the poll, the common case
                values, kafka_ms = [m.value() for m in messages], stamps
            else:
                values = [messages[i].value() for i in group]
                kafka_ms = [stamps[i] for i in group]
            poll = decode_poll(values, kafka_ms, kind, self._rules, now_us)
            columns[topic] = poll.arrays
            if len(group) == len(messages):
                rows = poll.where
                continue
            for i, row in zip(group, poll.where, strict=True):
                rows[i] = row
        return columns, rows

    def _one(
        self,
        message: Message,
        key: tuple[str, int],
        offset: int,
        batch: Batch,
        now_us: int,
        *,
        side: bool = False,
    ) -> bool:
        """The per-message path: the row, or the dead letter with its reason (counted unless
        ``side``); True for a dead letter."""
        try:
            row = validate(decode(message.value()), batch.kind, self._rules, now_us)
            batch.rows.append(row, message.timestamp()[1], offset)
            return False
        except InvalidMessage as exc:
            letter = _dead_letter(message, key, offset, exc)
            kept = bounded(letter, self._dlq_max_bytes)
            if kept is not letter and not side:
                self._metrics.dlq_truncated()
            batch.dead_letters.append(kept)
            if not side:
                self._metrics.dead_letter(exc.reason)
            return True

    @staticmethod
    def _consumer_error(message: Message) -> bool:
        error = message.error()
        if error is None:
            return False
        if error.fatal():
            raise FatalError(f"Kafka consumer: {error}")
        if error.code() != KafkaError._PARTITION_EOF:
            logger.warning("Kafka consumer error: {}", error)
        return True


def _dead_letter(
    message: Message, key: tuple[str, int], offset: int, exc: InvalidMessage
) -> DeadLetter:
    return DeadLetter(
        topic=key[0],
        partition=key[1],
        offset=offset,
        timestamp_ms=message.timestamp()[1],
        key=message.key(),
        value=message.value(),
        reason=exc.reason,
        detail=exc.detail,
    )
