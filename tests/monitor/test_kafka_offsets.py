"""The lag check's reads from Kafka: message times of many partitions in one assignment.

Unit tests drive :func:`first_timestamps` with an in-memory reader and a manual clock; the
Kafka test checks :class:`KafkaOffsets` against the real broker: the times it reads ahead in
``snapshot`` are the broker's, and ``timestamp_at`` answers them without reading again.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_NOT_AVAILABLE, Producer

from monitor.kafka_offsets import KafkaOffsets, PartitionOffsets, first_timestamps, lagging
from tickwatch.clock import ManualClock
from tickwatch.settings import KafkaSettings
from tickwatch.types import TopicPartitionKey


class _Message:
    def __init__(self, topic: str | None, partition: int | None, millis: int, **kw: Any) -> None:
        self._topic, self._partition, self._millis = topic, partition, millis
        self._error = kw.get("error")
        self._kind = kw.get("kind", TIMESTAMP_CREATE_TIME)

    def topic(self) -> str | None:
        return self._topic

    def partition(self) -> int | None:
        return self._partition

    def error(self) -> Any:
        return self._error

    def timestamp(self) -> tuple[int, int]:
        return self._kind, self._millis


class _Reader:
    """Hands out ``messages`` one poll at a time; an empty queue waits out the timeout."""

    def __init__(self, clock: ManualClock, messages: list[_Message]) -> None:
        self.clock, self.messages = clock, list(messages)
        self.assigned: list[list[tuple[str, int, int]]] = []
        self.unassigned = 0

    def assign(self, tps: list[Any]) -> None:
        self.assigned.append([(tp.topic, tp.partition, tp.offset) for tp in tps])

    def unassign(self) -> None:
        self.unassigned += 1

    def poll(self, timeout: float) -> _Message | None:
        if not self.messages:
            self.clock.advance(timeout)
            return None
        self.clock.advance(0.01)
        return self.messages.pop(0)


def test_one_assignment_for_all_partitions_first_message_of_each_wins() -> None:
    clock = ManualClock()
    reader = _Reader(
        clock,
        [_Message("t", 0, 1_000), _Message("t", 0, 9_000), _Message("u", 2, 2_500)],
    )
    got = first_timestamps(reader, {("t", 0): 5, ("u", 2): 7}, 2.0, clock)
    assert got == {("t", 0): 1.0, ("u", 2): 2.5}
    assert reader.assigned == [[("t", 0, 5), ("u", 2, 7)]]
    assert reader.unassigned == 1
    assert reader.messages == []  # the later message of t/0 was skipped


def test_stops_once_every_partition_answered() -> None:
    clock = ManualClock()
    reader = _Reader(clock, [_Message("t", 1, 4_000), _Message("t", 1, 5_000)])
    assert first_timestamps(reader, {("t", 1): 0}, 2.0, clock) == {("t", 1): 4.0}
    assert len(reader.messages) == 1  # not polled for more


def test_silent_partition_is_left_out_within_the_time_limit() -> None:
    clock = ManualClock()
    reader = _Reader(clock, [_Message("t", 0, 1_000)])
    got = first_timestamps(reader, {("t", 0): 0, ("t", 1): 0}, 2.0, clock)
    assert got == {("t", 0): 1.0}
    assert clock.monotonic() == pytest.approx(2.0)
    assert reader.unassigned == 1


def test_failed_read_or_missing_time_is_none_and_client_events_are_skipped() -> None:
    clock = ManualClock()
    reader = _Reader(
        clock,
        [
            _Message(None, None, 0, error="broker transport failure"),
            _Message("t", 0, 0, error="offset out of range"),
            _Message("t", 1, 0, kind=TIMESTAMP_NOT_AVAILABLE),
        ],
    )
    got = first_timestamps(reader, {("t", 0): 3, ("t", 1): 3}, 2.0, clock)
    assert got == {("t", 0): None, ("t", 1): None}


def test_lagging_means_committed_and_behind() -> None:
    assert lagging(PartitionOffsets("t", 0, 3, 5))
    assert not lagging(PartitionOffsets("t", 0, 5, 5))
    assert not lagging(PartitionOffsets("t", 0, -1, 5))  # never committed: the check skips it


@pytest.mark.kafka
def test_snapshot_reads_every_lagging_partitions_time_ahead_and_timestamp_at_uses_them(
    kafka_settings: KafkaSettings, kafka_bootstrap: str
) -> None:
    from confluent_kafka import Consumer, TopicPartition

    group, partitions = kafka_settings.consumer_group, kafka_settings.partitions
    topics = [kafka_settings.topic_trades, kafka_settings.topic_quotes]
    conf = kafka_settings.client_config(kafka_bootstrap)
    base_ms = int(time.time() * 1000) - 600_000
    producer = Producer(conf)
    for t, topic in enumerate(topics):
        for p in range(partitions):
            for i in range(40):  # each partition's own times: base + topic, partition, index
                ms = base_ms + 100_000 * t + 10_000 * p + 100 * i
                producer.produce(topic, b"x" * 200, partition=p, timestamp=ms)
    assert producer.flush(10) == 0
    del producer  # no client left to log the broker's shutdown
    # every partition lags (committed 7 of 40) except the first of quotes (caught up)
    commits = [TopicPartition(topic, p, 7) for topic in topics for p in range(partitions)]
    commits[partitions] = TopicPartition(topics[1], 0, 40)
    committer = Consumer({**conf, "group.id": group, "enable.auto.commit": False})
    committer.commit(offsets=commits, asynchronous=False)
    committer.close()

    offsets = KafkaOffsets(conf, timeout_s=10.0)
    reads: list[dict[TopicPartitionKey, int]] = []
    original = offsets._read_ahead

    def counting(wanted: Any) -> None:
        wanted = list(wanted)
        reads.append({(t, p): o for t, p, o in wanted})
        original(wanted)

    offsets._read_ahead = counting  # type: ignore[method-assign]
    try:
        snap = {(p.topic, p.partition): p for p in offsets.snapshot(group, topics)}
        assert (snap[(topics[0], 0)].committed, snap[(topics[0], 0)].end) == (7, 40)
        assert (snap[(topics[1], 0)].committed, snap[(topics[1], 0)].end) == (40, 40)
        lagging_ones = {(c.topic, c.partition): 7 for c in commits if c.offset == 7}
        assert reads == [lagging_ones]  # one read ahead, of the lagging partitions only
        for t, topic in enumerate(topics):
            for p in range(partitions):
                if (topic, p) not in lagging_ones:
                    continue
                want = (base_ms + 100_000 * t + 10_000 * p + 700) / 1000
                assert offsets._ts_cache[(topic, p)] == (7, want)
                assert offsets.timestamp_at(topic, p, 7) == want
        assert len(reads) == 1 + len(lagging_ones)  # the calls above: all from the cache
        assert offsets.timestamp_at(topics[1], 0, 39) == (base_ms + 100_000 + 3900) / 1000
        assert reads[-1] == {(topics[1], 0): 39}  # a partition not read ahead: read now
    finally:
        offsets.close()
