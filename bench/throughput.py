"""Rows per second into ClickHouse, measured by watching a table's row count grow."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.deadline import Deadline

POLL_S = 0.1


@dataclass(frozen=True)
class Throughput:
    """When a consumer started, when its first rows became visible and when all of them did.

    ``rows_per_s`` is the steady rate: rows after the first visible ones divided by the time
    from then to the last (start-up, imports and the first batch's fill time excluded).
    ``wall_rows_per_s`` counts from the start, start-up included.
    """

    rows: int
    started: float
    first_rows_at: float
    first_rows: int
    done_at: float

    @property
    def rows_per_s(self) -> float:
        span = self.done_at - self.first_rows_at
        if span <= 0 or self.rows <= self.first_rows:
            return self.wall_rows_per_s
        return (self.rows - self.first_rows) / span

    @property
    def wall_rows_per_s(self) -> float:
        return self.rows / max(self.done_at - self.started, 1e-9)

    @property
    def startup_s(self) -> float:
        return self.first_rows_at - self.started

    def as_json(self) -> dict[str, Any]:
        """The measurement's numbers for the results file."""
        return {
            "rows": self.rows,
            "rows_per_s": round(self.rows_per_s),
            "wall_rows_per_s": round(self.wall_rows_per_s),
            "seconds_to_first_rows": round(self.startup_s, 3),
            "first_rows": self.first_rows,
            "seconds_total": round(self.done_at - self.started, 3),
        }


def watch_rows(
    count: Callable[[], int],
    target: int,
    started: float,
    deadline: Deadline,
    still_running: Callable[[], None],
) -> Throughput:
    """Poll ``count()`` until it reaches ``target``; ``still_running()`` raises if the consumer
    died. Blocks until then or the deadline (ScenarioTimeout)."""
    first_at, first = 0.0, 0
    while True:
        rows = count()
        now = time.monotonic()
        if rows > 0 and not first_at:
            first_at, first = now, rows
        if rows >= target:
            return Throughput(rows, started, first_at, first, now)
        still_running()
        deadline.sleep(POLL_S, f"waiting for {target:,} rows ({rows:,} so far)")
