"""Scenario 3: ingest throughput — the real ``tickwatch ingest`` (simulator source) as fast as it
goes for a fixed window, records/s read from the topics' high watermarks; the worker's and the
Kafka broker's CPU over the run; with ``--profile``, py-spy on the worker."""

from __future__ import annotations

import time

from bench import goals
from bench.context import BenchContext, ServerCpu
from bench.deadline import Deadline
from bench.errors import BenchError
from bench.figures import Figure
from bench.profile import ProfileRecorder, summarize
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
    """Records/s, CPU seconds (worker, broker) and peak RSS of one ingest worker at full speed."""
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
    if ctx.options.ingest_compression:
        extra["TICKWATCH_INGEST_COMPRESSION"] = ctx.options.ingest_compression
    samples: list[Sample] = []
    broker = ServerCpu(ctx.services.kafka_pid)
    with (
        OffsetProbe(ctx.services.bootstrap, topics.names) as probe,
        ctx.worker("ingest", "ingest", topics=topics, databases=databases, extra=extra) as worker,
    ):
        recorder = ProfileRecorder(worker.pid, ctx.options.results_dir / "ingest.profile.txt")
        profiling = ctx.options.profile and recorder.start()
        limit = time.monotonic() + window + EXIT_GRACE_S
        while worker.running() and time.monotonic() < limit:
            samples.append((time.monotonic(), probe.total()))
            deadline.sleep(SAMPLE_S, "ingest worker running")
        samples.append((time.monotonic(), probe.total()))
        stats = worker.stop()
    broker_cpu_s = broker.used()
    profile = recorder.stop() if profiling else None
    ctx.warehouse.drop(databases)
    rate = steady_rate(samples)
    if rate <= 0:
        raise BenchError(f"ingest worker produced {samples[-1][1]} records; log {worker.log_path}")
    millions = samples[-1][1] / 1e6
    per_million = stats.cpu_s / millions
    first = Figure(NAME, "records/s", rate, "records/s", goals.INGEST_RECORDS_PER_S,
                   extra={"records": samples[-1][1], "window_s": window,
                          "compression": ctx.options.ingest_compression or "default",
                          **stats.as_json()})  # fmt: skip
    if profile is not None:
        summary = summarize(profile)
        first.extra["profile"] = str(profile)
        first.extra["profile_samples"] = summary.samples
        first.extra["profile_inclusive"] = [(f, round(v, 3)) for f, v in summary.inclusive]
        first.extra["profile_own"] = [(f, round(v, 3)) for f, v in summary.own]
    out = [
        first,
        Figure(NAME, "worker CPU", stats.cpu_s, "s",
               display=f"{stats.cpu_s:.1f} s ({per_million:.1f} s per 1M records)"),
        Figure(NAME, "worker peak RSS", stats.peak_rss_mb, "MB"),
    ]  # fmt: skip
    if broker_cpu_s is not None:
        out.append(Figure(NAME, "Kafka broker CPU", broker_cpu_s, "s",
                          display=f"{broker_cpu_s:.1f} s ({broker_cpu_s / millions:.1f} s per 1M "
                                  "records)"))  # fmt: skip
    return out
