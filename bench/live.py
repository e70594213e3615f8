"""A live pipeline for the latency and detection scenarios: ingest at a fixed rate → Kafka →
one load worker → ClickHouse, each a real tickwatch worker process."""

from __future__ import annotations

import time

from bench.context import BenchContext
from bench.deadline import Deadline
from bench.topics import OffsetProbe, TopicSet, group_members
from bench.warehouse import BenchDatabases
from bench.worker import WorkerProcess

READY_WAIT_S = 30.0
POLL_S = 0.25


def start_load(
    ctx: BenchContext, what: str, topics: TopicSet, databases: BenchDatabases, deadline: Deadline
) -> WorkerProcess:
    """Start ``tickwatch load`` and wait (≤ 30 s) until its consumer group is stable, so the
    first ticks are not measured waiting for a partition assignment. The caller stops it."""
    worker = ctx.worker("load", what, topics=topics, databases=databases).start()
    try:
        _wait_group(ctx, ctx.name(what), worker, min(READY_WAIT_S, deadline.remaining()))
    except BaseException:
        worker.stop()
        raise
    return worker


def ingest_worker(
    ctx: BenchContext,
    what: str,
    *,
    topics: TopicSet,
    databases: BenchDatabases,
    rate: int,
    duration_s: float,
) -> WorkerProcess:
    """A (not yet started) simulator ingest worker at ``rate`` records/s for ``duration_s``
    (0 = until stopped)."""
    extra = {
        "TICKWATCH_INGEST_SOURCE": "simulator",
        "TICKWATCH_INGEST_RATE": str(rate),
        "TICKWATCH_INGEST_DURATION_S": str(duration_s),
        "TICKWATCH_INGEST_SEED": str(ctx.options.seed),
        "TICKWATCH_INGEST_SYMBOLS": str(ctx.options.symbols),
    }
    return ctx.worker("ingest", what, topics=topics, databases=databases, extra=extra)


def wait_drained(
    ctx: BenchContext, topics: TopicSet, databases: BenchDatabases, deadline: Deadline
) -> int:
    """Wait until the trade and quote tables hold every record of their topics; the count.

    Raises ScenarioTimeout (naming both counts) if the deadline passes first.
    """
    with OffsetProbe(ctx.services.bootstrap, (topics.trades, topics.quotes)) as probe:
        produced = probe.total()
    while True:
        rows = ctx.warehouse.count(f"{databases.market}.trades") + ctx.warehouse.count(
            f"{databases.market}.quotes"
        )
        if rows >= produced:
            return rows
        deadline.sleep(POLL_S, f"draining: {rows:,} of {produced:,} records in ClickHouse")


def _wait_group(ctx: BenchContext, group: str, worker: WorkerProcess, timeout_s: float) -> None:
    """Poll the group until it has a member or ``timeout_s`` passes (then go on regardless:
    the warm-up excluded from the figures covers a late assignment)."""
    limit = time.monotonic() + timeout_s
    while group_members(ctx.services.bootstrap, group) == 0 and time.monotonic() < limit:
        worker.ensure_running()
        time.sleep(POLL_S)
