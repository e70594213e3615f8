"""The lag check's list of partitions (monitor.kafka_offsets.PartitionList): listed again after
its age, at once after an invalidate, for other topics, and while a topic is missing."""

from __future__ import annotations

from monitor.kafka_offsets import PartitionList
from tickwatch.clock import ManualClock
from tickwatch.types import TopicPartitionKey


class _Lister:
    def __init__(self, partitions: dict[str, int]) -> None:
        self.partitions, self.calls = partitions, 0

    def __call__(self, topics: list[str]) -> list[TopicPartitionKey]:
        self.calls += 1
        return [(t, p) for t in topics for p in range(self.partitions.get(t, 0))]


def test_partitions_are_listed_again_only_after_their_age() -> None:
    clock, lister = ManualClock(), _Lister({"trades": 2})
    parts = PartitionList(lister, 30.0, clock)
    assert parts.get(["trades"]) == [("trades", 0), ("trades", 1)]
    clock.advance(29.0)
    lister.partitions["trades"] = 3
    assert len(parts.get(["trades"])) == 2 and lister.calls == 1
    clock.advance(1.0)
    assert len(parts.get(["trades"])) == 3 and lister.calls == 2


def test_invalidate_and_other_topics_list_at_once() -> None:
    clock, lister = ManualClock(), _Lister({"trades": 1, "quotes": 1})
    parts = PartitionList(lister, 30.0, clock)
    parts.get(["trades"])
    assert parts.get(["trades", "quotes"]) == [("trades", 0), ("quotes", 0)]
    parts.invalidate()
    parts.get(["trades", "quotes"])
    assert lister.calls == 3


def test_a_missing_topic_is_looked_for_on_every_call() -> None:
    clock, lister = ManualClock(), _Lister({"trades": 1})
    parts = PartitionList(lister, 30.0, clock)
    assert parts.get(["trades", "quotes"]) == [("trades", 0)]
    lister.partitions["quotes"] = 1
    assert parts.get(["trades", "quotes"]) == [("trades", 0), ("quotes", 0)]
    parts.get(["trades", "quotes"])
    assert lister.calls == 2
