"""What the lag check reads from Kafka: committed offsets, log-end offsets, owners, message times.

:class:`KafkaOffsets` is the real implementation over confluent-kafka's AdminClient and a
group-less reader Consumer; tests of the evaluation logic use an in-memory stand-in with the same
:class:`OffsetSource` shape. Every method raises :class:`CheckUnavailable` when the broker does not
answer within the timeout.

Cost per check run (issue 18): one ListOffsets and one OffsetFetch request for all partitions
together (the topics' partitions come from a Metadata request at most every
``METADATA_MAX_AGE_S``, and again after a failed read), and the message times the check asks
for with :meth:`timestamp_at` read in one assignment of every lagging partition
(:meth:`KafkaOffsets.snapshot` reads them ahead: one fetch per broker for all of them) instead
of one assign, fetch and unassign per partition. The group's members: ``monitor.checks.lag``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from monitor.errors import CheckUnavailable
from tickwatch.clock import SYSTEM_CLOCK, MonotonicClock
from tickwatch.types import TopicPartitionKey

TIMESTAMP_READ_MAX_S = 2.0
"""At most this long (and never past the check timeout) for one read of message times."""
METADATA_MAX_AGE_S = 30.0
"""The topics' partitions are listed again after this long: a partition added to a topic is
sampled from then on (it has no committed offset before a load worker commits on it anyway)."""
ADMIN_CLIENT_ID = "tickwatch-monitor-lag"
READER_CLIENT_ID = "tickwatch-monitor-reader"


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

    def __init__(
        self, conf: dict[str, Any], timeout_s: float, clock: MonotonicClock = SYSTEM_CLOCK
    ) -> None:
        from confluent_kafka import Consumer
        from confluent_kafka.admin import AdminClient

        self._timeout, self._clock = timeout_s, clock
        self._admin = AdminClient({"client.id": ADMIN_CLIENT_ID, **conf})
        self._reader = Consumer(
            {
                "client.id": READER_CLIENT_ID,
                **conf,
                "group.id": "tickwatch-monitor-reader",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 10,
                # max.partition.fetch.bytes stays librdkafka's: below a record batch's size a
                # broker returns that batch for the first partition of a fetch only (KIP-74),
                # and the read of every other partition would wait for its turn
            }
        )
        self._ts_cache: dict[TopicPartitionKey, tuple[int, float | None]] = {}
        self._partitions = PartitionList(self._list_partitions, METADATA_MAX_AGE_S, clock)

    def _wait(self, futures: dict[Any, Any]) -> dict[Any, Any]:
        try:
            return {k: f.result(timeout=self._timeout) for k, f in futures.items()}
        except Exception as exc:  # KafkaException, timeouts: broker unreachable
            raise CheckUnavailable(f"Kafka: {exc}") from exc

    def snapshot(self, group: str, topics: list[str]) -> list[PartitionOffsets]:
        """Committed and log-end offsets of every partition of ``topics`` that exist."""
        from confluent_kafka import TopicPartition

        tps = [TopicPartition(t, p) for t, p in self._partitions.get(topics)]
        if not tps:
            return []
        try:
            return self._offsets(group, tps)
        except CheckUnavailable:
            self._partitions.invalidate()  # a topic deleted or re-created: list them again
            raise

    def _offsets(self, group: str, tps: list[Any]) -> list[PartitionOffsets]:
        from confluent_kafka import ConsumerGroupTopicPartitions

        # confluent-kafka neither re-exports OffsetSpec in __all__ nor annotates latest()
        from confluent_kafka.admin import OffsetSpec  # type: ignore[attr-defined]

        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        ends = self._wait(
            self._admin.list_offsets({tp: latest for tp in tps}, request_timeout=self._timeout)
        )
        req = [ConsumerGroupTopicPartitions(group, tps)]
        got = self._wait(
            self._admin.list_consumer_group_offsets(req, request_timeout=self._timeout)
        )
        committed = {(tp.topic, tp.partition): tp.offset for tp in got[group].topic_partitions}
        rows = [
            PartitionOffsets(
                tp.topic, tp.partition, committed.get((tp.topic, tp.partition), -1), ends[tp].offset
            )
            for tp in tps
        ]
        self._read_ahead((r.topic, r.partition, r.committed) for r in rows if lagging(r))
        return rows

    def _list_partitions(self, topics: list[str]) -> list[TopicPartitionKey]:
        try:
            meta = self._admin.list_topics(timeout=self._timeout)
        except Exception as exc:  # broker unreachable
            raise CheckUnavailable(f"Kafka: {exc}") from exc
        return [(t, p) for t in topics if t in meta.topics for p in meta.topics[t].partitions]

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
        """Broker timestamp (epoch s) of the message at ``offset``; cached while offset holds
        (for the lagging partitions of the last :meth:`snapshot` it was read there)."""
        self._read_ahead([(topic, partition, offset)])
        return self._ts_cache[(topic, partition)][1]

    def _read_ahead(self, wanted: Iterable[tuple[str, int, int]]) -> None:
        """Read, in one assignment, the message times of ``wanted`` (topic, partition, offset)
        not cached at that offset yet; cache each (None: not read within the time limit)."""
        missing = {
            (t, p): o for t, p, o in wanted if self._ts_cache.get((t, p), (None, None))[0] != o
        }
        if not missing:
            return
        found = first_timestamps(self._reader, missing, min(self._timeout, TIMESTAMP_READ_MAX_S))
        for key, offset in missing.items():
            self._ts_cache[key] = (offset, found.get(key))

    def close(self) -> None:
        self._reader.close()


class PartitionList:
    """The partitions of some topics, listed with ``lister`` and kept for ``max_age_s`` (a new
    list of topics, or :meth:`invalidate`, lists them again at once). A list that lacks one of
    the topics is not kept: a topic created after the detector started is sampled from the next
    run on, as before."""

    def __init__(
        self,
        lister: Callable[[list[str]], list[TopicPartitionKey]],
        max_age_s: float,
        clock: MonotonicClock,
    ) -> None:
        self._lister, self._max_age, self._clock = lister, max_age_s, clock
        self._listed: tuple[list[str], float, list[TopicPartitionKey]] | None = None

    def get(self, topics: list[str]) -> list[TopicPartitionKey]:
        now = self._clock.monotonic()
        listed = self._listed
        if listed is None or listed[0] != topics or now - listed[1] >= self._max_age:
            listed = (list(topics), now, self._lister(topics))
            complete = {t for t, _ in listed[2]} == set(topics)
            self._listed = listed if complete else None
        return listed[2]

    def invalidate(self) -> None:
        self._listed = None


def lagging(p: PartitionOffsets) -> bool:
    """The lag check asks for the message time at the committed offset of this partition."""
    return p.committed >= 0 and p.end > p.committed


def first_timestamps(
    reader: Any,
    offsets: dict[TopicPartitionKey, int],
    limit_s: float,
    clock: MonotonicClock = SYSTEM_CLOCK,
) -> dict[TopicPartitionKey, float | None]:
    """Broker timestamp (epoch s) of the first message at or after each partition's offset,
    read with ``reader`` (a group-less ``confluent_kafka.Consumer``) assigned to all of them at
    once, polled until each partition delivered one message or ``limit_s`` passed.

    A partition left out of the answer delivered nothing in time; one whose read failed, or
    whose message carries no timestamp, maps to None. Later messages of a partition are skipped.
    """
    from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, TopicPartition

    pending = dict(offsets)
    found: dict[TopicPartitionKey, float | None] = {}
    reader.assign([TopicPartition(t, p, o) for (t, p), o in pending.items()])
    try:
        until = clock.monotonic() + limit_s
        while pending and (left := until - clock.monotonic()) > 0:
            msg = reader.poll(left)
            if msg is None:
                break
            key = (msg.topic(), msg.partition())
            if pending.pop(key, None) is None:
                continue  # a later message of a partition already read, or a client event
            kind, millis = (TIMESTAMP_NOT_AVAILABLE, 0) if msg.error() else msg.timestamp()
            found[key] = None if kind == TIMESTAMP_NOT_AVAILABLE else millis / 1000.0
    finally:
        reader.unassign()
    return found
