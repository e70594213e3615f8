"""What the lag check reads from Kafka: committed offsets, log-end offsets, owners, message times.

:class:`KafkaOffsets` is the real implementation over confluent-kafka's AdminClient and a
group-less reader Consumer; tests of the evaluation logic use an in-memory stand-in with the same
:class:`OffsetSource` shape. Every method raises :class:`CheckUnavailable` when the broker does not
answer within the timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from monitor.errors import CheckUnavailable
from tickwatch.types import TopicPartitionKey


@dataclass(frozen=True, slots=True)
class PartitionOffsets:
    topic: str
    partition: int
    committed: int  # negative: the group never committed on this partition
    end: int


class OffsetSource(Protocol):
    def snapshot(self, group: str, topics: list[str]) -> list[PartitionOffsets]: ...
    def owned(self, group: str) -> set[TopicPartitionKey]: ...
    def timestamp_at(self, topic: str, partition: int, offset: int) -> float | None: ...


class KafkaOffsets:
    """Reads offsets with an AdminClient; reads message times with a group-less Consumer."""

    def __init__(self, conf: dict[str, Any], timeout_s: float) -> None:
        from confluent_kafka import Consumer
        from confluent_kafka.admin import AdminClient

        self._timeout = timeout_s
        self._admin = AdminClient(conf)
        self._reader = Consumer(
            {
                **conf,
                "group.id": "tickwatch-monitor-reader",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 10,
            }
        )
        self._ts_cache: dict[TopicPartitionKey, tuple[int, float | None]] = {}

    def _wait(self, futures: dict[Any, Any]) -> dict[Any, Any]:
        try:
            return {k: f.result(timeout=self._timeout) for k, f in futures.items()}
        except Exception as exc:  # KafkaException, timeouts: broker unreachable
            raise CheckUnavailable(f"Kafka: {exc}") from exc

    def snapshot(self, group: str, topics: list[str]) -> list[PartitionOffsets]:
        """Committed and log-end offsets of every partition of ``topics`` that exist."""
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

        # confluent-kafka neither re-exports OffsetSpec in __all__ nor annotates latest()
        from confluent_kafka.admin import OffsetSpec  # type: ignore[attr-defined]

        try:
            meta = self._admin.list_topics(timeout=self._timeout)
        except Exception as exc:  # broker unreachable
            raise CheckUnavailable(f"Kafka: {exc}") from exc
        tps = [
            TopicPartition(t, p)
            for t in topics
            if t in meta.topics
            for p in meta.topics[t].partitions
        ]
        if not tps:
            return []
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        ends = self._wait(
            self._admin.list_offsets({tp: latest for tp in tps}, request_timeout=self._timeout)
        )
        req = [ConsumerGroupTopicPartitions(group, tps)]
        got = self._wait(
            self._admin.list_consumer_group_offsets(req, request_timeout=self._timeout)
        )
        committed = {(tp.topic, tp.partition): tp.offset for tp in got[group].topic_partitions}
        return [
            PartitionOffsets(
                tp.topic, tp.partition, committed.get((tp.topic, tp.partition), -1), ends[tp].offset
            )
            for tp in tps
        ]

    def owned(self, group: str) -> set[TopicPartitionKey]:
        """Partitions assigned to a live member of ``group`` (empty when the group is empty)."""
        desc = self._wait(
            self._admin.describe_consumer_groups([group], request_timeout=self._timeout)
        )[group]
        return {
            (tp.topic, tp.partition)
            for m in desc.members
            for tp in (m.assignment.topic_partitions if m.assignment else [])
        }

    def timestamp_at(self, topic: str, partition: int, offset: int) -> float | None:
        """Broker timestamp (epoch s) of the message at ``offset``; cached while offset holds."""
        cached = self._ts_cache.get((topic, partition))
        if cached is not None and cached[0] == offset:
            return cached[1]
        ts = self._fetch_timestamp(topic, partition, offset)
        self._ts_cache[(topic, partition)] = (offset, ts)
        return ts

    def _fetch_timestamp(self, topic: str, partition: int, offset: int) -> float | None:
        from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, TopicPartition

        self._reader.assign([TopicPartition(topic, partition, offset)])
        try:
            msg = self._reader.poll(min(self._timeout, 2.0))
        finally:
            self._reader.unassign()
        if msg is None or msg.error():
            return None
        kind, millis = msg.timestamp()
        return None if kind == TIMESTAMP_NOT_AVAILABLE else millis / 1000.0

    def close(self) -> None:
        self._reader.close()
