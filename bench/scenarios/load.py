"""Scenario 1: one ``tickwatch load`` process drains the pre-filled topic into ClickHouse."""

from __future__ import annotations

from bench import goals
from bench.context import BenchContext
from bench.deadline import Deadline
from bench.figures import Figure
from bench.loadrun import LoadRun, load_run
from bench.profile import summarize

NAME = "load"


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """Load throughput, CPU and peak RSS of one load worker (telemetry on, the default)."""
    return figures(NAME, load_run(ctx, telemetry=True, deadline=deadline))


def figures(scenario: str, result: LoadRun) -> list[Figure]:
    """The figures of one load run."""
    tp, worker = result.throughput, result.worker
    per_million = worker.cpu_s / (tp.rows / 1e6)
    out = [
        Figure(
            scenario, "rows/s (steady)", tp.rows_per_s, "rows/s", goals.LOAD_ROWS_PER_S,
            extra=result.as_json(),
        ),
        Figure(scenario, "rows/s incl. start-up", tp.wall_rows_per_s, "rows/s"),
        Figure(
            scenario, "worker CPU", worker.cpu_s, "s",
            display=f"{worker.cpu_s:.1f} s ({per_million:.1f} s per 1M rows)",
        ),
        Figure(scenario, "worker peak RSS", worker.peak_rss_mb, "MB", goals.LOAD_PEAK_RSS_MB),
    ]  # fmt: skip
    if result.profile is not None:
        summary = summarize(result.profile)
        out[0].extra["profile_samples"] = summary.samples
        out[0].extra["profile_inclusive"] = [(f, round(v, 3)) for f, v in summary.inclusive]
        out[0].extra["profile_own"] = [(f, round(v, 3)) for f, v in summary.own]
    if result.server_cpu_s is not None:
        out.append(Figure(scenario, "ClickHouse server CPU", result.server_cpu_s, "s"))
        total = (worker.cpu_s + result.server_cpu_s) / (tp.rows / 1e6)
        out.append(
            Figure(
                scenario, "CPU per 1M rows (worker + server)", total, "s", goals.CPU_PER_MILLION_S
            )
        )
    return out
