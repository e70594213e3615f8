"""Fill a topic with a seeded tape of trades, as fast as one Python producer can."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Producer

from bench.deadline import Deadline
from bench.errors import BenchError
from bench.tape import TradeTape
from bench.topics import OffsetProbe, TopicSet

PRODUCER_CONFIG: dict[str, str | int | bool] = {
    "linger.ms": 50,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "enable.idempotence": True,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "log_level": 3,
}


@dataclass(frozen=True)
class PrefilledTopic:
    """A trades topic holding ``records`` messages (its quote/bar/DLQ topics stay empty)."""

    topics: TopicSet
    records: int
    seconds: float

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def prefill(
    bootstrap: str, topics: TopicSet, tape: TradeTape, deadline: Deadline
) -> PrefilledTopic:
    """Produce every record of ``tape`` to ``topics.trades`` and wait until all are acknowledged.

    The topics must exist and be empty. Raises :class:`BenchError` if the broker then holds a
    different number of records, ScenarioTimeout if the deadline passes first.
    """
    started = time.monotonic()
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG})
    for keys, values in tape.chunks():
        _produce_chunk(producer, topics.trades, keys, values)
        deadline.check(f"pre-filling {topics.trades}")
    left = producer.flush(max(deadline.remaining(), 0.1))
    deadline.check(f"flushing {topics.trades} ({left} records unacknowledged)")
    with OffsetProbe(bootstrap, (topics.trades,)) as probe:
        held = probe.total()
    if held != tape.count:
        raise BenchError(f"pre-fill: {topics.trades} holds {held} records, expected {tape.count}")
    return PrefilledTopic(topics, tape.count, time.monotonic() - started)


def _produce_chunk(producer: Producer, topic: str, keys: list[bytes], values: list[bytes]) -> None:
    produce = producer.produce
    for key, value in zip(keys, values, strict=True):
        while True:
            try:
                produce(topic, value, key)
                break
            except BufferError:  # local queue full: let librdkafka send, then retry this one
                producer.poll(0.05)
    producer.poll(0)
