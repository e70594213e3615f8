"""Shared pieces of the ingest tests: finite sources, a fake producer, reading topics back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from pipeline.codec import Payload
from pipeline.sources.simulator import Simulator
from pipeline.topics import record_topics
from tickwatch.clock import ManualClock
from tickwatch.settings import IngestSettings, KafkaSettings


class FiniteSimulator:
    """The simulator on a manual clock, ending after ``count`` items (or at ``aclose``)."""

    name = "simulator"

    def __init__(self, count: int, **settings: Any) -> None:
        self._sim = Simulator(IngestSettings.model_validate(settings), ManualClock(1_763_700_000.0))
        self._count = count
        self.closed = False
        self.sent: list[Payload] = []

    async def batches(self) -> AsyncIterator[Sequence[Payload]]:
        async for batch in self._sim.batches():
            take = list(batch[: self._count - len(self.sent)])
            self.sent += take
            yield take
            if len(self.sent) >= self._count or self.closed:
                return

    async def aclose(self) -> None:
        self.closed = True
        await self._sim.aclose()


class FakeKafka:
    """An in-memory stand-in for ``confluent_kafka.Producer`` (delivers on poll)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.pending: list[tuple[str, bytes, bytes]] = []
        self.messages: list[tuple[str, bytes, bytes]] = []

    def produce(self, topic: str, value: bytes, key: bytes) -> None:
        self.pending.append((topic, value, key))

    def poll(self, timeout: float) -> int:
        done, self.pending = self.pending, []
        for message in done:
            self.messages.append(message)
            self.config["on_delivery"](None, _Delivered(*message))
        return len(done)

    def flush(self, timeout: float) -> int:
        self.poll(0)
        return 0

    def __len__(self) -> int:
        return len(self.pending)


class _Delivered:
    def __init__(self, topic: str, value: bytes, key: bytes) -> None:
        self._topic, self._value, self._key = topic, value, key

    def latency(self) -> float:
        return 0.001

    def topic(self) -> str:
        return self._topic

    def value(self) -> bytes:
        return self._value

    def key(self) -> bytes:
        return self._key


def read_back(kafka: KafkaSettings, expected: int, timeout_s: float = 60.0) -> list[Any]:
    """Every message of the trades/quotes/bars topics from the start, until ``expected`` came.

    ``timeout_s`` only bounds the wait; the caller asserts on what was read.
    """
    consumer = Consumer(
        kafka.client_config(kafka.bootstrap)
        | {
            "group.id": f"{kafka.consumer_group}-reader",
            "enable.auto.commit": False,
        }
    )
    topics = list(record_topics(kafka).values())
    metadata = consumer.list_topics(timeout=10)
    consumer.assign(
        [TopicPartition(t, p, 0) for t in topics for p in metadata.topics[t].partitions]
    )
    messages: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(messages) < expected and time.monotonic() < deadline:
        for message in consumer.consume(10_000, timeout=0.5):
            if message.error() is None:
                messages.append(message)
    for message in consumer.consume(10_000, timeout=1.0):  # anything beyond ``expected``
        if message.error() is None:
            messages.append(message)
    consumer.close()
    return messages
