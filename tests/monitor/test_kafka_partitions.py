"""Under-replicated / offline partition checks over in-memory metadata (the real cluster:
``tests/stack/test_kafka_cluster.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from monitor.checks.kafka_partitions import (
    OfflinePartitionsCheck,
    UnderReplicatedCheck,
    read_health,
)
from monitor.errors import CheckUnavailable
from tickwatch.clock import ManualClock
from tickwatch.types import Status


@dataclass
class Partition:
    leader: int
    replicas: list[int]
    isrs: list[int]


@dataclass
class Topic:
    partitions: dict[int, Partition]


@dataclass
class Metadata:
    topics: dict[str, Topic] = field(default_factory=dict)


class Admin:
    def __init__(self, meta: Metadata | None) -> None:
        self.meta = meta

    def list_topics(self, timeout: float) -> Metadata:
        if self.meta is None:
            raise RuntimeError("Local: Broker transport failure")
        return self.meta


def _meta(**partitions: Partition) -> Metadata:
    return Metadata({"ticks": Topic({int(k[1:]): v for k, v in partitions.items()})})


def _check(kind: Any, meta: Metadata | None) -> Any:
    admin = Admin(meta)
    return kind(lambda: admin, "b:9092", ["ticks", "absent"], timeout_s=1, interval_s=1,
                clock=ManualClock(100.0))  # fmt: skip


def test_healthy_partitions_are_ok() -> None:
    meta = _meta(p0=Partition(1, [1, 2, 3], [1, 2, 3]), p1=Partition(2, [2, 3, 1], [2, 3, 1]))
    for kind in (UnderReplicatedCheck, OfflinePartitionsCheck):
        (result,) = _check(kind, meta).run()
        assert result.status is Status.OK and result.message == "all 2 partitions healthy"


def test_a_shrunk_isr_is_under_replicated_warn_naming_the_partition() -> None:
    meta = _meta(p0=Partition(1, [1, 2, 3], [1, 2]), p1=Partition(2, [2, 3, 1], [2, 3, 1]))
    (result,) = _check(UnderReplicatedCheck, meta).run()
    assert result.status is Status.WARN and result.value == 1
    assert "ticks[0] isr 2/3" in result.message
    assert _check(OfflinePartitionsCheck, meta).run()[0].status is Status.OK


def test_no_leader_is_offline_crit() -> None:
    meta = _meta(p0=Partition(-1, [3], [3]), p1=Partition(2, [2], [2]))
    (result,) = _check(OfflinePartitionsCheck, meta).run()
    assert result.status is Status.CRIT and "ticks[0]" in result.message
    assert "1 offline partition(s)" in result.message


def test_an_unanswering_cluster_is_unavailable_not_ok() -> None:
    with pytest.raises(CheckUnavailable, match="Broker transport failure"):
        _check(UnderReplicatedCheck, None).run()


def test_long_lists_are_cut() -> None:
    meta = _meta(**{f"p{i}": Partition(-1, [1], [1]) for i in range(25)})
    health = read_health(Admin(meta), ["ticks"], 1)
    assert len(health.offline) == 25
    (result,) = _check(OfflinePartitionsCheck, meta).run()
    assert result.message.endswith("(+15 more)")
