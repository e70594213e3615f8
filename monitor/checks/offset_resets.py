"""Were consumer positions reset? CRIT while ``ops.pipeline_events`` holds a recent reset.

The load worker writes an ``offset_reset`` / ``offset_missing`` row whenever a partition's
position moved away from its committed offset (retention, a recreated topic, a broker that lost
its tail, offsets that expired; see :mod:`pipeline.load.events`): data was re-read with new batch
boundaries or skipped. One result per (topic, partition) with events in the last
``offset_reset_window_s`` (CRIT, value = number of events, message = the latest detail), so the
alert stays open for the window and resolves after it; OK on the table when there is none.
"""

from __future__ import annotations

from monitor.chconn import ClickHouseHandle
from monitor.result import CheckResult, Status
from tickwatch.clock import WallClock, utc


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
        """Raises CheckUnavailable."""
        now = self._clock.time()
        sql = (
            "SELECT topic, kafka_partition, count(), argMax(detail, time) "
            f"FROM {self._table} WHERE kind IN ('offset_reset', 'offset_missing') "
            "AND time >= {since:DateTime64(3, 'UTC')} GROUP BY topic, kafka_partition "
            "ORDER BY topic, kafka_partition"
        )
        rows = self._ch.rows(sql, {"since": utc(now - self._window_s)})
        window = f"{self._window_s:.0f}s"
        if not rows:
            message = f"no consumer position reset in the last {window}"
            return [CheckResult(now, self.name, self._table, Status.OK, 0.0, 0.0, message)]
        return [
            CheckResult(
                now,
                self.name,
                f"{topic}[{partition}]",
                Status.CRIT,
                float(n),
                0.0,
                f"{int(n)} position reset(s) in the last {window}; latest: {detail}",
            )
            for topic, partition, n, detail in rows
        ]
