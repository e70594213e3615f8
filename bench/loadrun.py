"""One load worker process draining the pre-filled topic into fresh ClickHouse tables."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.context import BenchContext, ServerCpu
from bench.deadline import Deadline
from bench.profile import ProfileRecorder
from bench.throughput import Throughput, watch_rows
from bench.worker import ProcessStats


@dataclass(frozen=True)
class LoadRun:
    """How fast ``tickwatch load`` moved the pre-filled trades, and what it cost."""

    telemetry: bool
    throughput: Throughput
    worker: ProcessStats
    server_cpu_s: float | None
    profile: Path | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "telemetry": self.telemetry,
            **self.throughput.as_json(),
            "worker": self.worker.as_json(),
            "clickhouse_server_cpu_s": _round(self.server_cpu_s),
            "profile": str(self.profile) if self.profile else None,
        }


def load_run(ctx: BenchContext, telemetry: bool, deadline: Deadline) -> LoadRun:
    """Run (once per run and telemetry setting; later calls return the same result) one
    ``tickwatch load`` process until ``count()`` of the target table reaches the topic's size.

    Order: pre-fill (if not done) → fresh migrated databases → start the worker → watch the row
    count → record CPU/RSS → stop the worker → drop the databases (no merges left behind).
    """
    key = f"load-telemetry-{'on' if telemetry else 'off'}"
    cached = ctx.memo.get(key)
    if isinstance(cached, LoadRun):
        return cached
    topic = ctx.prefilled(deadline)
    databases = ctx.warehouse.fresh(ctx.name(key.replace("-", "_")))
    extra = {"TICKWATCH_TELEMETRY_ENABLED": "true" if telemetry else "false"}
    server = ServerCpu(ctx.services.clickhouse_pid)
    worker = ctx.worker("load", key, topics=topic.topics, databases=databases, extra=extra)
    with worker:
        started = time.monotonic()
        recorder = ProfileRecorder(worker.pid, ctx.options.results_dir / f"{key}.profile.txt")
        profiling = ctx.options.profile and recorder.start()
        measured = watch_rows(
            lambda: ctx.warehouse.count(f"{databases.market}.trades"),
            topic.records,
            started,
            deadline,
            worker.ensure_running,
        )
        stats = worker.stop()
    profile = recorder.stop() if profiling else None
    result = LoadRun(telemetry, measured, stats, server.used(), profile)
    ctx.warehouse.drop(databases)
    ctx.memo[key] = result
    return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
