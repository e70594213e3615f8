"""Scenario 3: ingest throughput — the real ``tickwatch ingest`` (simulator source) as fast as it
goes for a fixed window, records/s read from the topics' high watermarks."""

from __future__ import annotations

import time

from bench.context import BenchContext
from bench.deadline import Deadline
from bench.errors import BenchError
from bench.figures import Figure
from bench.topics import OffsetProbe

NAME = "ingest"
MAX_RATE = 2_000_000  # IngestSettings.rate's upper bound: "as fast as the worker can"
SAMPLE_S = 0.25
EXIT_GRACE_S = 30.0

Sample = tuple[float, int]


def steady_rate(samples: list[Sample]) -> float:
    """Records/s between the first sample with records and the first one at the final count."""
    moving = [s for s in samples if s[1] > 0]
    if len(moving) < 2:
        return 0.0
    final = moving[-1][1]
    last = next(s for s in moving if s[1] == final)
    first = moving[0]
    if last[0] <= first[0]:
        return 0.0
    return (last[1] - first[1]) / (last[0] - first[0])


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """Records/s, CPU seconds and peak RSS of one ingest worker at its maximum rate."""
    topics = ctx.topics("ingest")
    databases = ctx.warehouse.fresh(ctx.name("ingest"))
    window = ctx.options.ingest_window_s
    extra = {
        "TICKWATCH_INGEST_SOURCE": "simulator",
        "TICKWATCH_INGEST_RATE": str(MAX_RATE),
        "TICKWATCH_INGEST_DURATION_S": str(window),
        "TICKWATCH_INGEST_SEED": str(ctx.options.seed),
        "TICKWATCH_INGEST_SYMBOLS": str(ctx.options.symbols),
    }
    samples: list[Sample] = []
    with (
        OffsetProbe(ctx.services.bootstrap, topics.names) as probe,
        ctx.worker("ingest", "ingest", topics=topics, databases=databases, extra=extra) as worker,
    ):
        limit = time.monotonic() + window + EXIT_GRACE_S
        while worker.running() and time.monotonic() < limit:
            samples.append((time.monotonic(), probe.total()))
            deadline.sleep(SAMPLE_S, "ingest worker running")
        samples.append((time.monotonic(), probe.total()))
        stats = worker.stop()
    ctx.warehouse.drop(databases)
    rate = steady_rate(samples)
    if rate <= 0:
        raise BenchError(f"ingest worker produced {samples[-1][1]} records; log {worker.log_path}")
    per_million = stats.cpu_s / (samples[-1][1] / 1e6)
    return [
        Figure(NAME, "records/s", rate, "records/s",
               extra={"records": samples[-1][1], "window_s": window, **stats.as_json()}),
        Figure(NAME, "worker CPU", stats.cpu_s, "s",
               display=f"{stats.cpu_s:.1f} s ({per_million:.1f} s per 1M records)"),
        Figure(NAME, "worker peak RSS", stats.peak_rss_mb, "MB"),
    ]  # fmt: skip
