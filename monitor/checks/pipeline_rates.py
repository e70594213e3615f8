"""End-to-end latency p99 and dead-letter rate, both read from ClickHouse over the last interval.

* ``latency_p99`` (target = the trades table): p99 of ``inserted_at - event_time`` over trades
  inserted in the last ``latency_interval_s``; WARN above the threshold, CRIT above twice it.
  No trades in the interval → OK with a note (freshness reports missing data).
  Only trades with an event time after ClickHouse last came back (a read of this check failed
  before) count: the backlog written after an outage measures the outage, which its own
  reachability alert reports, not the pipeline's latency.
* ``dlq_rate`` (target = the dead-letter table): dead letters per second over the last
  ``dlq_interval_s``; WARN above the threshold, CRIT above ten times it.
"""

from __future__ import annotations

from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import WallClock, utc
from tickwatch.errors import ServiceUnavailable
from tickwatch.types import CheckResult, Status


def _grade(value: float, warn: float, crit: float) -> Status:
    if value > crit:
        return Status.CRIT
    if value > warn:
        return Status.WARN
    return Status.OK


class LatencyCheck:
    name = "latency_p99"
    depends_on = ("clickhouse_reachable", "kafka_reachable")

    def __init__(
        self,
        ch: ClickHouseHandle,
        market_db: str,
        *,
        threshold_s: float,
        interval_s: float,
        clock: WallClock,
    ) -> None:
        self._ch, self._table = ch, f"{market_db}.trades"
        self._threshold = threshold_s
        self.interval_s = interval_s
        self._clock = clock
        self._unreachable = False
        self._floor = 0.0  # only trades with an event time from here on count

    def run(self) -> list[CheckResult]:
        """Raises ServiceUnavailable."""
        now = self._clock.time()
        sql = (
            "SELECT count(), quantile(0.99)((toUnixTimestamp64Micro(inserted_at) - "
            f"toUnixTimestamp64Micro(event_time)) / 1e6) FROM {self._table} "
            "WHERE inserted_at >= {since:DateTime64(3, 'UTC')} "
            "AND event_time >= {floor:DateTime64(3, 'UTC')}"
        )
        params = {"since": utc(now - self.interval_s), "floor": utc(self._floor)}
        try:
            n, p99 = self._ch.rows(sql, params)[0]
        except ServiceUnavailable:  # the handle's "ClickHouse cannot be read"
            self._unreachable = True
            raise
        if self._unreachable:  # back after an outage: judge only trades from now on
            self._unreachable, self._floor = False, now
            n, p99 = self._ch.rows(sql, {**params, "floor": utc(now)})[0]
        if not n:
            return [
                CheckResult(
                    now,
                    self.name,
                    self._table,
                    Status.OK,
                    0.0,
                    self._threshold,
                    f"no trades inserted in the last {self.interval_s:.0f}s",
                )
            ]
        p99 = float(p99)
        status = _grade(p99, self._threshold, 2 * self._threshold)
        message = (
            f"p99 event-to-insert latency {p99:.2f}s over {int(n)} trades in the last "
            f"{self.interval_s:.0f}s (threshold {self._threshold:.2f}s)"
        )
        return [CheckResult(now, self.name, self._table, status, p99, self._threshold, message)]


class DeadLetterRateCheck:
    name = "dlq_rate"
    depends_on = ("clickhouse_reachable",)

    def __init__(
        self,
        ch: ClickHouseHandle,
        ops_db: str,
        *,
        threshold: float,
        interval_s: float,
        clock: WallClock,
    ) -> None:
        self._ch, self._table = ch, f"{ops_db}.dead_letters"
        self._threshold = threshold
        self.interval_s = interval_s
        self._clock = clock

    def run(self) -> list[CheckResult]:
        """Raises ServiceUnavailable."""
        now = self._clock.time()
        sql = (
            "SELECT count(), topKIf(3)(reason, reason != '') "
            f"FROM {self._table} WHERE time >= {{since:DateTime64(3, 'UTC')}}"
        )
        n, reasons = self._ch.rows(sql, {"since": utc(now - self.interval_s)})[0]
        rate = int(n) / self.interval_s
        status = _grade(rate, self._threshold, 10 * self._threshold)
        message = f"{int(n)} dead letters in the last {self.interval_s:.0f}s ({rate:.2f}/s)"
        if reasons:
            message += f"; top reasons: {', '.join(str(r) for r in reasons)}"
        return [CheckResult(now, self.name, self._table, status, rate, self._threshold, message)]
