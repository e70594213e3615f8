"""Scenario 5: what telemetry costs the load worker — the same topic drained with it off.

The "on" run is the load scenario's (shared within one run); the "off" run sets
``TICKWATCH_TELEMETRY_ENABLED=false``. Both read the same pre-filled topic into fresh tables.
"""

from __future__ import annotations

from bench.context import BenchContext
from bench.deadline import Deadline
from bench.figures import Figure
from bench.loadrun import load_run

NAME = "telemetry"


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """Rows/s and CPU seconds with telemetry on and off, and the overhead between them."""
    on = load_run(ctx, telemetry=True, deadline=deadline)
    off = load_run(ctx, telemetry=False, deadline=deadline)
    rate_on, rate_off = on.throughput.rows_per_s, off.throughput.rows_per_s
    overhead = (1.0 - rate_on / rate_off) * 100.0 if rate_off > 0 else 0.0
    cpu_overhead = (on.worker.cpu_s / off.worker.cpu_s - 1.0) * 100.0 if off.worker.cpu_s else 0.0
    return [
        Figure(NAME, "rows/s, telemetry on", rate_on, "rows/s"),
        Figure(NAME, "rows/s, telemetry off", rate_off, "rows/s", extra=off.as_json()),
        Figure(
            NAME, "throughput overhead", overhead, "%",
            display=f"{overhead:+.1f} % (CPU {cpu_overhead:+.1f} %: "
            f"{on.worker.cpu_s:.1f} s on vs {off.worker.cpu_s:.1f} s off)",
        ),
        Figure(
            NAME, "peak RSS on / off", on.worker.peak_rss_mb, "MB",
            display=f"{on.worker.peak_rss_mb:.0f} / {off.worker.peak_rss_mb:.0f} MB",
        ),
    ]  # fmt: skip
