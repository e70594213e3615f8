"""Consumer lag of the load workers' group: offsets, seconds behind, and a Burrow verdict.

One alerting row per topic (``consumer_lag``, target ``group/topic``: the worst partition's
verdict, the total lag in offsets, the largest seconds-behind, and which partitions are affected)
and one detail row per partition (``consumer_lag_partition``, value = lag in offsets).

Seconds behind = now - broker timestamp of the message at the committed offset (the oldest
message the group has not processed yet); 0 when the lag is 0.

Who owns a partition matters only to tell STALLED from STOPPED: the group's members are read
(one DescribeGroups, which confluent-kafka precedes with a ConsumerGroupDescribe) only in a run
where some partition's window is full, static and lagging — not every run (issue 18).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from monitor.burrow import LagVerdict, OffsetSample, evaluate
from monitor.kafka_offsets import OffsetSource, PartitionOffsets
from tickwatch.clock import WallClock
from tickwatch.types import CheckResult, Status, TopicPartitionKey, worst


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    lag: int
    seconds: float
    verdict: LagVerdict


class _Owners:
    """The group's owned partitions, read from the source at most once per run, on first use."""

    def __init__(self, source: OffsetSource, group: str) -> None:
        self._source, self._group = source, group
        self._owned: set[TopicPartitionKey] | None = None

    def get(self) -> set[TopicPartitionKey]:
        if self._owned is None:
            self._owned = self._source.owned(self._group)
        return self._owned


class ConsumerLagCheck:
    """Samples offsets each run and keeps a window of ``window`` samples per partition."""

    name = "consumer_lag"

    def __init__(
        self,
        source: OffsetSource,
        group: str,
        topics: list[str],
        *,
        window: int,
        warn_s: float,
        crit_s: float,
        interval_s: float,
        clock: WallClock,
    ) -> None:
        self._source, self._group, self._topics = source, group, topics
        self._size, self._warn, self._crit = window, warn_s, crit_s
        self.interval_s = interval_s
        self._clock = clock
        self._history: dict[TopicPartitionKey, deque[OffsetSample]] = {}

    def run(self) -> list[CheckResult]:
        """Sample once and evaluate. Raises CheckUnavailable when Kafka does not answer."""
        snapshot = [p for p in self._source.snapshot(self._group, self._topics) if p.committed >= 0]
        owners = _Owners(self._source, self._group)
        now = self._clock.time()
        lags = [self._partition(p, now, owners) for p in snapshot]
        results: list[CheckResult] = []
        for topic in self._topics:
            mine = [lag for lag in lags if lag.topic == topic]
            if mine:
                results.append(self._topic_row(topic, mine, now))
                results.extend(self._detail_row(lag, now) for lag in mine)
        return results

    def _partition(self, p: PartitionOffsets, now: float, owners: _Owners) -> PartitionLag:
        window = self._history.setdefault((p.topic, p.partition), deque(maxlen=self._size))
        window.append(OffsetSample(now, p.committed, p.end))
        lag = window[-1].lag
        seconds, behind = 0.0, 0.0
        if lag > 0:
            ts = self._source.timestamp_at(p.topic, p.partition, p.committed)
            seconds = max(0.0, now - ts) if ts is not None else 0.0
            behind = seconds if ts is not None else float("inf")
        verdict = evaluate(list(window), self._size, owned=False, behind_s=behind)
        if verdict is LagVerdict.STOPPED:  # the one verdict ``owned`` changes (to STALLED)
            owned = (p.topic, p.partition) in owners.get()
            verdict = evaluate(list(window), self._size, owned=owned, behind_s=behind)
        return PartitionLag(p.topic, p.partition, lag, seconds, verdict)

    def _status(self, lag: PartitionLag) -> Status:
        by_time = Status.OK
        if lag.seconds >= self._crit:
            by_time = Status.CRIT
        elif lag.seconds >= self._warn:
            by_time = Status.WARN
        return worst([lag.verdict.status, by_time])

    def _topic_row(self, topic: str, lags: list[PartitionLag], now: float) -> CheckResult:
        status = worst([self._status(lag) for lag in lags])
        total = sum(lag.lag for lag in lags)
        behind = max(lag.seconds for lag in lags)
        bad = [lag for lag in lags if self._status(lag) != Status.OK]
        detail = ", ".join(
            f"p{lag.partition}: {lag.verdict.value}, lag {lag.lag}, {lag.seconds:.0f}s behind"
            for lag in bad
        )
        message = (
            f"group {self._group} on {topic}: total lag {total} offsets, "
            f"{behind:.1f}s behind" + (f"; {detail}" if detail else "")
        )
        return CheckResult(
            now, self.name, f"{self._group}/{topic}", status, behind, self._warn, message
        )

    def _detail_row(self, lag: PartitionLag, now: float) -> CheckResult:
        return CheckResult(
            now,
            "consumer_lag_partition",
            f"{self._group}/{lag.topic}/{lag.partition}",
            self._status(lag),
            float(lag.lag),
            0.0,
            f"{lag.verdict.value}, {lag.seconds:.1f}s behind",
            alertable=False,
        )
