"""Kafka partition health from cluster metadata: under-replicated and offline partitions.

Both checks read the same ``list_topics`` metadata (one AdminClient request, within
``timeout_s``) for the pipeline's topics. A partition is *under-replicated* when its in-sync
replica set is smaller than its replica set (a broker is down or lagging: one more failure may
stop ``acks=all`` writes), and *offline* when it has no leader (nobody can read or write it).
One aggregate row per check (target = the bootstrap address), listing up to ten partitions.
A broker that does not answer raises :class:`CheckUnavailable` (``kafka_reachable`` alerts then).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.errors import CheckUnavailable
from tickwatch.clock import WallClock
from tickwatch.types import CheckResult, Status

SHOWN = 10


@dataclass(frozen=True)
class PartitionHealth:
    """What the metadata says about the watched partitions."""

    under_replicated: list[str]
    offline: list[str]
    partitions: int


def read_health(admin: Any, topics: Sequence[str], timeout_s: float) -> PartitionHealth:
    """Metadata of ``topics``; raises :class:`CheckUnavailable` when the cluster does not answer."""
    try:
        meta = admin.list_topics(timeout=timeout_s)
    except Exception as exc:  # KafkaException or a timeout
        raise CheckUnavailable(
            f"Kafka metadata not answering within {timeout_s:g}s: {exc}"
        ) from exc
    under, offline, total = [], [], 0
    for topic in topics:
        found = meta.topics.get(topic)
        if found is None:
            continue
        for pid, partition in sorted(found.partitions.items()):
            total += 1
            name = f"{topic}[{pid}]"
            if partition.leader < 0:
                offline.append(name)
            if len(partition.isrs) < len(partition.replicas):
                under.append(f"{name} isr {len(partition.isrs)}/{len(partition.replicas)}")
    return PartitionHealth(under, offline, total)


def _listed(names: list[str]) -> str:
    more = f" (+{len(names) - SHOWN} more)" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


class _PartitionCheck:
    name = ""
    failing = Status.WARN

    def __init__(
        self,
        admin_factory: Callable[[], Any],
        target: str,
        topics: Sequence[str],
        *,
        timeout_s: float,
        interval_s: float,
        clock: WallClock,
    ) -> None:
        self._factory = admin_factory
        self._admin: Any = None
        self._target, self._topics, self._timeout = target, list(topics), timeout_s
        self.interval_s = interval_s
        self._clock = clock

    def run(self) -> list[CheckResult]:
        now = self._clock.time()
        if self._admin is None:
            self._admin = self._factory()
        health = read_health(self._admin, self._topics, self._timeout)
        bad = self._bad(health)
        status = self.failing if bad else Status.OK
        message = self._describe(bad) if bad else f"all {health.partitions} partitions healthy"
        return [CheckResult(now, self.name, self._target, status, float(len(bad)), 0.0, message)]

    def _bad(self, health: PartitionHealth) -> list[str]:
        raise NotImplementedError

    def _describe(self, bad: list[str]) -> str:
        raise NotImplementedError


class UnderReplicatedCheck(_PartitionCheck):
    """WARN while any watched partition has fewer in-sync replicas than replicas."""

    name = "kafka_under_replicated"
    depends_on = ("kafka_reachable",)

    def _bad(self, health: PartitionHealth) -> list[str]:
        return health.under_replicated

    def _describe(self, bad: list[str]) -> str:
        return f"{len(bad)} under-replicated partition(s): {_listed(bad)}"


class OfflinePartitionsCheck(_PartitionCheck):
    """CRIT while any watched partition has no leader."""

    name = "kafka_offline_partitions"
    failing = Status.CRIT
    depends_on = ("kafka_reachable",)

    def _bad(self, health: PartitionHealth) -> list[str]:
        return health.offline

    def _describe(self, bad: list[str]) -> str:
        return f"{len(bad)} offline partition(s) (no leader): {_listed(bad)}"
