"""Records onto Kafka through an idempotent producer, with every outcome counted.

Ordering: the key is the symbol, so each symbol's records share a partition and keep their
order; the producer is idempotent (``enable.idempotence``, ``acks=all``), so librdkafka's
retries neither duplicate nor reorder them.

Nothing is dropped silently: a full local queue (``BufferError``) makes :meth:`TickProducer.send`
serve delivery reports and retry; a failed delivery is counted and logged with its record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from loguru import logger

from pipeline.codec import Payload, RecordType
from pipeline.codec.batch import encode_payloads
from tickwatch.clients import kafka_config
from tickwatch.clock import SYSTEM_CLOCK, MonotonicClock
from tickwatch.deadline import Deadline
from tickwatch.settings import Settings
from tickwatch.telemetry.catalog import IngestMetrics

LATENCY_SAMPLES_PER_POLL = 256
"""Delivery-latency observations per poll at most (evenly spread); counts stay exact."""


class KafkaProducer(Protocol):
    """The part of ``confluent_kafka.Producer`` used here."""

    def produce(self, topic: str, value: bytes, key: bytes) -> None: ...
    def poll(self, timeout: float) -> int: ...
    def flush(self, timeout: float) -> int: ...
    def __len__(self) -> int: ...


def producer_config(
    settings: Settings, bootstrap: str, **extra: str | int | bool
) -> dict[str, Any]:
    """librdkafka settings for the ingest producer (``extra`` wins, e.g. small test queues)."""
    ingest = settings.ingest
    base: dict[str, str | int | bool] = {
        "client.id": "tickwatch-ingest",
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": ingest.compression,
        "linger.ms": ingest.linger_ms,
        "queue.buffering.max.messages": ingest.queue_max_messages,
    }
    return kafka_config(settings.kafka, bootstrap, **(base | extra))


class TickProducer:
    """Produces payloads to the topic of their record type.

    Not thread-safe: one thread calls ``send``/``poll``/``flush`` (delivery reports run inside
    those calls). ``fatal`` is set when librdkafka reports a fatal (idempotence) error; the
    worker must stop then.
    """

    def __init__(
        self,
        producer_factory: Callable[[dict[str, Any]], KafkaProducer],
        config: dict[str, Any],
        topics: Mapping[RecordType, str],
        metrics: IngestMetrics,
        source: str,
        *,
        clock: MonotonicClock = SYSTEM_CLOCK,
    ) -> None:
        self._clock = clock
        self._producer = producer_factory(config | {"on_delivery": self._on_delivery})
        self._topics = dict(topics)
        self._metrics, self._source = metrics, source
        self._latencies: list[float] = []
        self.delivered = 0
        self.failed = 0
        self.fatal: str | None = None
        self.queue_full_waits = 0

    @property
    def queued(self) -> int:
        """Messages in the local queue (not yet delivered or failed)."""
        return len(self._producer)

    def send(
        self, items: Sequence[Payload], recv_ts: int, give_up: Callable[[], bool] = lambda: False
    ) -> int:
        """Enqueue ``items`` in order; return how many were enqueued.

        The whole batch is encoded first (a :class:`~pipeline.codec.batch.PayloadBatch` block by
        block, in one pass each), then produced message by message. Blocks while the local queue
        is full, serving delivery reports. Returns early only if ``give_up()`` turns true while
        blocked (shutdown with the broker away); the items not enqueued are then logged and
        counted as ``produce_error(reason="shutdown")``.
        """
        rows = encode_payloads(items, recv_ts)
        topics = list(map(self._topics.__getitem__, rows.kinds))
        produce = self._producer.produce
        sent = 0
        for topic, value, key in zip(topics, rows.values, rows.keys, strict=True):
            try:
                produce(topic, value, key)
            except BufferError:
                if not self._retry(topic, key, value, give_up):
                    self._abandon(len(items) - sent)
                    break
            sent += 1
        for kind, count in Counter(rows.kinds[:sent]).items():
            self._metrics.produced(self._source, kind.value, count)
        self._metrics.queue_depth(len(self._producer))
        return sent

    def _retry(self, topic: str, key: bytes, value: bytes, give_up: Callable[[], bool]) -> bool:
        """Retry a produce that hit a full queue until it fits (True) or ``give_up()``."""
        while True:
            self.queue_full_waits += 1
            self._metrics.queue_depth(len(self._producer))
            if give_up():
                return False
            self.poll(0.05)  # the queue drains as delivery reports are served
            try:
                self._producer.produce(topic, value, key)
            except BufferError:
                continue
            return True

    def _abandon(self, count: int) -> None:
        logger.error("shutting down with {} records not enqueued (broker away?)", count)
        for _ in range(count):
            self._metrics.produce_error(self._source, "shutdown")
        self.failed += count

    def poll(self, timeout: float = 0.0) -> None:
        """Serve delivery reports for up to ``timeout`` seconds; record latency samples."""
        self._producer.poll(timeout)
        if self._latencies:
            step = max(1, len(self._latencies) // LATENCY_SAMPLES_PER_POLL)
            for seconds in self._latencies[::step]:
                self._metrics.delivery_latency(seconds)
            self._latencies.clear()

    def flush(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for every queued message; return how many remain."""
        deadline = Deadline(timeout, self._clock)
        while len(self._producer) and deadline.remaining() > 0:
            self._producer.flush(min(0.5, deadline.remaining()))
            self.poll(0)
        remaining = len(self._producer)
        self._metrics.queue_depth(remaining)
        return remaining

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is None:
            self.delivered += 1
            latency = msg.latency()
            if latency is not None:
                self._latencies.append(latency)
            return
        self.failed += 1
        if err.fatal():
            self.fatal = str(err)
        self._metrics.produce_error(self._source, err.name().lower())
        value = bytes(msg.value() or b"")
        logger.error(
            "delivery to {} failed: {} key={!r} value={!r}",
            msg.topic(),
            err,
            msg.key(),
            value[:300],
        )
