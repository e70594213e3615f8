"""Were consumer positions reset? CRIT while ``ops.pipeline_events`` holds a recent reset.

The load worker writes an ``offset_reset`` / ``offset_missing`` row whenever a partition's
position moved away from its committed offset (retention, a recreated topic, a broker that lost
its tail, offsets that expired; see :mod:`pipeline.load.events`): data was re-read with new batch
boundaries or skipped. One result per (topic, partition) with events in the last
``offset_reset_window_s`` (CRIT, value = number of events, message = the latest detail), so the
alert stays open for the window; a partition whose latest reset is older than the window but
younger than two windows reports OK under the SAME target for a whole window, so its alert
resolves (stateless: a restarted detector resolves it too); OK on the table when there is none.
"""

from __future__ import annotations

from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import WallClock, utc
from tickwatch.types import CheckResult, Status


class OffsetResetCheck:
    name = "offset_resets"

    def __init__(
        self,
        ch: ClickHouseHandle,
        ops_db: str,
        *,
        window_s: float,
        interval_s: float,
        clock: WallClock,
    ) -> None:
        self._ch, self._table = ch, f"{ops_db}.pipeline_events"
        self._window_s = window_s
        self.interval_s = interval_s
        self._clock = clock

    def run(self) -> list[CheckResult]:
        """Raises ServiceUnavailable."""
        now = self._clock.time()
        sql = (
            "SELECT topic, kafka_partition, countIf(time >= {since:DateTime64(3, 'UTC')}), "
            "argMax(detail, time), max(time) >= {since:DateTime64(3, 'UTC')} "
            f"FROM {self._table} WHERE kind IN ('offset_reset', 'offset_missing') "
            "AND time >= {horizon:DateTime64(3, 'UTC')} GROUP BY topic, kafka_partition "
            "ORDER BY topic, kafka_partition"
        )
        params = {"since": utc(now - self._window_s), "horizon": utc(now - 2 * self._window_s)}
        rows = self._ch.rows(sql, params)
        window = f"{self._window_s:.0f}s"
        if not rows:
            message = f"no consumer position reset in the last {window}"
            return [CheckResult(now, self.name, self._table, Status.OK, 0.0, 0.0, message)]
        return [
            self._result(now, f"{t}[{p}]", int(n), detail=d, recent=bool(recent), window=window)
            for t, p, n, d, recent in rows
        ]

    def _result(
        self, now: float, target: str, n: int, *, detail: str, recent: bool, window: str
    ) -> CheckResult:
        if not recent:
            message = f"no position reset in the last {window} (earlier: {detail})"
            return CheckResult(now, self.name, target, Status.OK, 0.0, 0.0, message)
        message = f"{n} position reset(s) in the last {window}; latest: {detail}"
        return CheckResult(now, self.name, target, Status.CRIT, float(n), 0.0, message)
