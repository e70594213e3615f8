"""In-memory stand-ins for ClickHouse and Kafka offsets, for tests of the detector's logic."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from monitor.errors import CheckUnavailable
from monitor.kafka_offsets import PartitionOffsets
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.types import CheckResult, Status, TopicPartitionKey


class FakeClickHouse(ClickHouseHandle):
    """Answers SELECTs with ``answer(sql, params)``; records inserts; can be 'down'."""

    def __init__(self, answer: Callable[[str, dict[str, Any]], list[Sequence[Any]]] | None = None):
        super().__init__(lambda: None)
        self.answer = answer or (lambda _sql, _params: [])
        self.down = False
        self.inserted: dict[str, list[list[object]]] = {}

    def _check(self) -> None:
        if self.down:
            raise CheckUnavailable("ClickHouse: connection refused")

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[Sequence[Any]]:
        self._check()
        return self.answer(sql, parameters or {})

    def command(self, sql: str) -> Any:
        self._check()
        return "26.9.2.1"

    def insert(self, table: str, rows: list[list[object]], columns: list[str]) -> None:
        self._check()
        self.inserted.setdefault(table, []).extend(rows)


class FakeOffsets:
    """Offsets set by the test: ``committed``/``end`` per partition, owners, message times."""

    def __init__(self, topic: str, partitions: int) -> None:
        self.committed = {(topic, p): 0 for p in range(partitions)}
        self.end = {(topic, p): 0 for p in range(partitions)}
        self.owners: set[TopicPartitionKey] = set(self.committed)
        self.times: dict[TopicPartitionKey, float] = {}
        self.down = False

    def snapshot(self, group: str, topics: list[str]) -> list[PartitionOffsets]:
        if self.down:
            raise CheckUnavailable("Kafka: broker transport failure")
        return [
            PartitionOffsets(t, p, self.committed[(t, p)], self.end[(t, p)])
            for (t, p) in sorted(self.committed)
            if t in topics
        ]

    def owned(self, group: str) -> set[TopicPartitionKey]:
        return set(self.owners)

    def timestamp_at(self, topic: str, partition: int, offset: int) -> float | None:
        return self.times.get((topic, partition))


def result(
    status: Status, when: float, check: str = "freshness", target: str = "trades/crypto"
) -> CheckResult:
    return CheckResult(when, check, target, status, 42.0, 10.0, f"{check} is {status.name}")
