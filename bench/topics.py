"""Per-scenario Kafka topics and how many records they hold."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from tickwatch.topics import create_topics


@dataclass(frozen=True)
class TopicSet:
    """The topics a tickwatch worker uses, unique to one scenario run."""

    prefix: str

    @property
    def trades(self) -> str:
        return f"{self.prefix}.trades"

    @property
    def quotes(self) -> str:
        return f"{self.prefix}.quotes"

    @property
    def bars(self) -> str:
        return f"{self.prefix}.bars"

    @property
    def corrections(self) -> str:
        return f"{self.prefix}.corrections"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.dlq"

    @property
    def names(self) -> tuple[str, ...]:
        return (self.trades, self.quotes, self.bars, self.corrections, self.dlq)

    def env(self) -> dict[str, str]:
        """The ``TICKWATCH_KAFKA_TOPIC_*`` variables that point a worker at these topics."""
        return {
            "TICKWATCH_KAFKA_TOPIC_TRADES": self.trades,
            "TICKWATCH_KAFKA_TOPIC_QUOTES": self.quotes,
            "TICKWATCH_KAFKA_TOPIC_BARS": self.bars,
            "TICKWATCH_KAFKA_TOPIC_CORRECTIONS": self.corrections,
            "TICKWATCH_KAFKA_TOPIC_DLQ": self.dlq,
        }

    def create(self, bootstrap: str, partitions: int) -> None:
        """Create all the topics (the local broker does not auto-create). Blocks ≤ 30 s."""
        create_topics({"bootstrap.servers": bootstrap}, self.names, partitions)


class OffsetProbe:
    """Reads how many records fresh topics hold: the sum of their partitions' high watermarks.

    Keeps one connection open for repeated reads; use as a context manager.
    """

    def __init__(self, bootstrap: str, topics: tuple[str, ...], timeout_s: float = 10.0) -> None:
        self._timeout_s = timeout_s
        self._consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "tickwatch-bench-probe", "log_level": 3}
        )
        metadata = self._consumer.list_topics(timeout=timeout_s)
        self._partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in metadata.topics[topic].partitions
        ]

    def total(self) -> int:
        """Records written to the topics so far. Blocks up to the timeout per partition."""
        total = 0
        for partition in self._partitions:
            _, high = self._consumer.get_watermark_offsets(partition, timeout=self._timeout_s)
            total += max(high, 0)
        return total

    def per_partition(self) -> dict[tuple[str, int], int]:
        """Records written so far to each (topic, partition). Blocks as :meth:`total` does."""
        out: dict[tuple[str, int], int] = {}
        for partition in self._partitions:
            _, high = self._consumer.get_watermark_offsets(partition, timeout=self._timeout_s)
            out[(partition.topic, partition.partition)] = max(high, 0)
        return out

    def close(self) -> None:
        """Close the connection."""
        self._consumer.close()

    def __enter__(self) -> OffsetProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def group_members(bootstrap: str, group: str, timeout_s: float = 5.0) -> int:
    """How many members consumer group ``group`` has while it is stable (0 otherwise)."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    future = admin.describe_consumer_groups([group], request_timeout=timeout_s)[group]
    try:
        description = future.result(timeout=timeout_s)
    except KafkaException:
        return 0
    return len(description.members) if description.state.name == "STABLE" else 0
