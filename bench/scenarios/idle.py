"""Scenario 5 (issue 18): what the pipeline costs when the feed is quiet.

The simulator ingest worker at ``IDLE_RATE`` ticks/s, one load worker and the detector
(``tickwatch monitor``, the real process, mailing a local SMTP server) run; the scenario then
lets the stack settle before it measures: at least ``WARMUP_S``, until every worker's first
telemetry export is in ClickHouse (a heartbeat row from each service) and until no merge of this
run's tables is running (the parts of the migrations and of the first inserts), each bounded by
``SETTLE_MAX_S``. Over the next ``latency_window_s`` seconds: CPU per process from
``/proc/<pid>/stat`` (utime + stime, as a share of one core) for ingest, load, the detector, the
Kafka broker and the ClickHouse server (the last two only when this run started them);
ClickHouse's INSERTs per second per table from the tables' block numbers in ``system.parts``
(each INSERT that writes a part takes the next one, also into a materialized view's target; the
local server has no ``system.part_log``), and merged ÷ inserted rows from ``system.events``
(``MergedRows`` ÷ ``InsertedRows``, the whole server, which holds only this run's databases).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.context import BenchContext
from bench.deadline import Deadline
from bench.figures import Figure, Goal
from bench.live import ingest_worker, start_load
from bench.topics import TopicSet
from bench.warehouse import BenchDatabases
from bench.worker import WorkerProcess
from tickwatch.stack.mailserver import MailServer

NAME = "idle"
IDLE_RATE = 200
WARMUP_S = 5.0
SETTLE_MAX_S = 60.0
SETTLE_POLL_S = 0.5
SERVICES = ("ingest", "load", "monitor")
HEARTBEATS_SQL = "SELECT DISTINCT service FROM {ops:Identifier}.heartbeats"
MERGES_SQL = "SELECT count() FROM system.merges WHERE database IN ({market:String}, {ops:String})"
TOTAL_CORE = Goal("≤ 15 % of one core (whole stack)", 0.15, higher_is_better=False)
CLICKHOUSE_CORE = Goal("≤ 7 % of one core", 0.07, higher_is_better=False)
INSERTS_PER_TABLE = Goal("≤ 1 INSERT/s per table", 1.0, higher_is_better=False)
AMPLIFICATION = Goal("≤ 10× merged ÷ inserted rows", 10.0, higher_is_better=False)
BLOCKS_SQL = """
SELECT concat(database, '.', table), max(max_block_number) FROM system.parts
WHERE database IN ({market:String}, {ops:String}) AND active GROUP BY 1
"""
EVENTS = ("InsertQuery", "InsertedRows", "MergedRows")
EVENTS_SQL = "SELECT event, value FROM system.events WHERE event IN ('" + "', '".join(EVENTS) + "')"


@dataclass(frozen=True)
class ServerCounters:
    """Per table, the newest block number (one per INSERT that wrote rows); server events."""

    blocks: dict[str, int]
    events: dict[str, int]


def server_counters(ctx: BenchContext, databases: BenchDatabases) -> ServerCounters:
    client = ctx.warehouse.client
    params = _params(databases)
    blocks = {str(t): int(n) for t, n in client.query(BLOCKS_SQL, parameters=params).result_rows}
    events = {str(e): int(v) for e, v in client.query(EVENTS_SQL).result_rows}
    return ServerCounters(blocks, events)


def cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` in clock ticks, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """CPU per process, INSERTs/s per table and merge amplification at ``IDLE_RATE``."""
    topics = ctx.topics("idle")
    databases = ctx.warehouse.fresh(ctx.name("idle"))
    mail = MailServer(ctx.services.state_dir / "idle-mail")
    mail.start()
    try:
        return _measure(ctx, topics, databases, mail, deadline)
    finally:
        mail.stop()
        ctx.warehouse.drop(databases)


def _measure(
    ctx: BenchContext, topics: TopicSet, databases: BenchDatabases, mail: MailServer,
    deadline: Deadline,
) -> list[Figure]:  # fmt: skip
    window = ctx.options.latency_window_s
    smtp = {"TICKWATCH_SMTP_HOST": mail.host, "TICKWATCH_SMTP_PORT": str(mail.port)}
    load = start_load(ctx, "idle", topics, databases, deadline)
    ingest = ingest_worker(ctx, "idle-ingest", topics=topics, databases=databases,
                           rate=IDLE_RATE, duration_s=0)  # fmt: skip
    detector = ctx.worker("monitor", "idle-monitor", topics=topics, databases=databases,
                          extra=smtp, group=ctx.name("idle"))  # fmt: skip
    with load, ingest.start(), detector.start():
        workers = {"ingest worker": ingest, "load worker": load, "detector": detector}
        settle(ctx, databases, tuple(workers.values()), deadline)
        pids = {name: worker.pid for name, worker in workers.items()}
        pids.update(_services(ctx))
        first = server_counters(ctx, databases)
        before = {name: cpu_ticks(pid) for name, pid in pids.items()}
        since = time.monotonic()
        deadline.sleep(window, "idle window")
        after = {name: cpu_ticks(pid) for name, pid in pids.items()}
        seconds = time.monotonic() - since
        last = server_counters(ctx, databases)
    return _cpu_figures(before, after, seconds) + _server_figures(first, last, seconds)


def settle(
    ctx: BenchContext,
    databases: BenchDatabases,
    workers: tuple[WorkerProcess, ...],
    deadline: Deadline,
) -> None:
    """Warm up ``WARMUP_S``, then wait (each at most ``SETTLE_MAX_S``) for a heartbeat from every
    service in ClickHouse and for no merge of this run's tables; fail if a worker died."""
    deadline.sleep(WARMUP_S, "idle warm-up")
    checks: tuple[tuple[str, Callable[[], bool]], ...] = (
        ("first telemetry export of every worker", lambda: _exported(ctx, databases)),
        ("start-up merges", lambda: _merges(ctx, databases) == 0),
    )
    for what, done in checks:
        limit = time.monotonic() + SETTLE_MAX_S
        while not done() and time.monotonic() < limit:
            for worker in workers:
                worker.ensure_running()
            deadline.sleep(SETTLE_POLL_S, f"idle settle: {what}")


def _params(databases: BenchDatabases) -> dict[str, str]:
    return {"market": databases.market, "ops": databases.ops}


def _exported(ctx: BenchContext, databases: BenchDatabases) -> bool:
    """True once every service's heartbeat (its exporter's first write) is in ClickHouse."""
    rows = ctx.warehouse.client.query(HEARTBEATS_SQL, parameters=_params(databases)).result_rows
    return set(SERVICES) <= {str(row[0]) for row in rows}


def _merges(ctx: BenchContext, databases: BenchDatabases) -> int:
    """Merges running now on this run's tables."""
    result = ctx.warehouse.client.query(MERGES_SQL, parameters=_params(databases))
    return int(result.result_rows[0][0])


def _services(ctx: BenchContext) -> dict[str, int]:
    services = ctx.services
    found = {"ClickHouse server": services.clickhouse_pid, "Kafka broker": services.kafka_pid}
    return {name: pid for name, pid in found.items() if pid is not None}


def _cpu_figures(before: dict[str, int], after: dict[str, int], seconds: float) -> list[Figure]:
    """Each process's share of one core over the window, and the total."""
    hz = os.sysconf("SC_CLK_TCK")
    share = {name: (after[name] - before[name]) / hz / seconds for name in before}
    share["total"] = sum(share.values())
    goals = {"ClickHouse server": CLICKHOUSE_CORE, "total": TOTAL_CORE}
    return [
        Figure(NAME, f"CPU {name}", value, "of a core", goals.get(name), display=f"{value:.1%}")
        for name, value in share.items()
    ]


def _server_figures(first: ServerCounters, last: ServerCounters, seconds: float) -> list[Figure]:
    """INSERTs/s per table (block numbers), all INSERT queries/s, merged ÷ inserted rows."""
    out = [
        Figure(NAME, f"INSERTs/s into {table}", (n - first.blocks.get(table, 0)) / seconds, "/s",
               INSERTS_PER_TABLE)
        for table, n in sorted(last.blocks.items())
    ]  # fmt: skip
    events = {e: last.events.get(e, 0) - first.events.get(e, 0) for e in EVENTS}
    out.append(Figure(NAME, "INSERT queries/s (server, all tables)",
                      events["InsertQuery"] / seconds, "/s"))  # fmt: skip
    if events["InsertedRows"]:
        note = f"{events['MergedRows']:,} merged ÷ {events['InsertedRows']:,} inserted"
        ratio = events["MergedRows"] / events["InsertedRows"]
        out.append(Figure(NAME, "merge write amplification", ratio, "×", AMPLIFICATION, note=note))
    return out
