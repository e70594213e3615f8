"""Scenario 5 (issue 18): what the pipeline costs when the feed is quiet.

The simulator ingest worker at ``IDLE_RATE`` ticks/s, one load worker and the detector
(``tickwatch monitor``, the real process, mailing a local SMTP server) run; the scenario then
lets the stack settle before it measures: at least ``idle_warmup_s`` (60 s: the issue asks for
the steady state, and a fresh server spends its first minute compiling the views' expressions
and creating its first parts' files on a new file system), until every worker's first
telemetry export is in ClickHouse (a heartbeat row from each service) and until no merge of this
run's tables is running (the parts of the migrations and of the first inserts), each bounded by
``SETTLE_MAX_S``. Over the next ``idle_window_s`` (30 s) seconds: CPU per process from
``/proc/<pid>/stat`` (utime + stime, as a share of one core) for ingest, load, the detector, the
Kafka broker and the ClickHouse server (the last two only when this run started them);
INSERT *queries* per second into each market table, counted by the load worker itself (its
``tickwatch_load_batch_rows`` histogram observes once per INSERT query; scraped from its
``/metrics`` — the local server has no ``system.query_log``); *parts* written per second per
table from the tables' block numbers in ``system.parts`` (each INSERT that writes a part takes
the next one, and so does every materialized view's target it feeds: ``symbol_activity_daily``,
fed by trades, quotes and bars, gets two parts per pair of trades and quotes INSERTs; the local
server has no
``system.part_log``); and merged ÷ inserted rows from ``system.events`` (``MergedRows`` ÷
``InsertedRows``, the whole server, which holds only this run's databases).

The goal "≤ 1 INSERT/s per table" is judged on the queries where they are counted (the market
tables); a materialized view's target shows its parts beside them without the goal (it receives
no INSERT query of its own); a table with no query count (the telemetry tables, written with
async inserts that merge several queries into one part) is judged on its parts.
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

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
VIEWS_SQL = """
SELECT create_table_query FROM system.tables
WHERE database IN ({market:String}, {ops:String}) AND engine = 'MaterializedView'
"""
VIEW_TARGET = re.compile(r"\bTO\s+([\w.`]+)")
VIEW_SOURCE = re.compile(r"\bFROM\s+([\w.`]+)")
LOAD_INSERTS = "tickwatch_load_batch_rows"  # histogram: one observation per INSERT query
METRICS_TIMEOUT_S = 5.0
EVENTS = ("InsertQuery", "InsertedRows", "MergedRows")
EVENTS_SQL = "SELECT event, value FROM system.events WHERE event IN ('" + "', '".join(EVENTS) + "')"


@dataclass(frozen=True)
class ServerCounters:
    """Per table, the newest block number (one per part an INSERT wrote) and the load worker's
    INSERT queries so far; server events."""

    blocks: dict[str, int]
    events: dict[str, int]
    queries: dict[str, int]


def server_counters(
    ctx: BenchContext, databases: BenchDatabases, load: WorkerProcess
) -> ServerCounters:
    client = ctx.warehouse.client
    params = _params(databases)
    blocks = {str(t): int(n) for t, n in client.query(BLOCKS_SQL, parameters=params).result_rows}
    events = {str(e): int(v) for e, v in client.query(EVENTS_SQL).result_rows}
    return ServerCounters(blocks, events, load_insert_queries(load))


def load_insert_queries(load: WorkerProcess) -> dict[str, int]:
    """The load worker's INSERT queries so far per table, from its ``/metrics``."""
    url = f"http://127.0.0.1:{load.env['TICKWATCH_LOAD_METRICS_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=METRICS_TIMEOUT_S) as response:
        return insert_queries(response.read().decode())


def insert_queries(exposition: str) -> dict[str, int]:
    """Per ``table`` label, the count of :data:`LOAD_INSERTS` in a Prometheus exposition."""
    return {
        sample.labels["table"]: int(sample.value)
        for family in text_string_to_metric_families(exposition)
        if family.name == LOAD_INSERTS
        for sample in family.samples
        if sample.name == f"{LOAD_INSERTS}_count"
    }


def view_sources(ctx: BenchContext, databases: BenchDatabases) -> dict[str, list[str]]:
    """Each materialized view's target table -> the tables whose INSERTs feed it."""
    result = ctx.warehouse.client.query(VIEWS_SQL, parameters=_params(databases))
    return views_feeding([str(row[0]) for row in result.result_rows])


def views_feeding(create_queries: list[str]) -> dict[str, list[str]]:
    """Target -> sorted source tables, from the views' ``CREATE MATERIALIZED VIEW … TO target
    … AS SELECT … FROM source`` statements."""
    fed: dict[str, set[str]] = {}
    for query in create_queries:
        target, source = VIEW_TARGET.search(query), VIEW_SOURCE.search(query)
        if target and source:
            name = target.group(1).replace("`", "")
            fed.setdefault(name, set()).add(source.group(1).replace("`", ""))
    return {target: sorted(sources) for target, sources in fed.items()}


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
    window = ctx.options.idle_window_s
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
        first = server_counters(ctx, databases, load)
        before = {name: cpu_ticks(pid) for name, pid in pids.items()}
        since = time.monotonic()
        deadline.sleep(window, "idle window")
        after = {name: cpu_ticks(pid) for name, pid in pids.items()}
        seconds = time.monotonic() - since
        last = server_counters(ctx, databases, load)
        fed_by = view_sources(ctx, databases)
    return _cpu_figures(before, after, seconds) + _server_figures(first, last, seconds, fed_by)


def settle(
    ctx: BenchContext,
    databases: BenchDatabases,
    workers: tuple[WorkerProcess, ...],
    deadline: Deadline,
) -> None:
    """Warm up ``idle_warmup_s``, then wait (each at most ``SETTLE_MAX_S``) for a heartbeat from
    every service in ClickHouse and for no merge of this run's tables; fail if a worker died."""
    deadline.sleep(ctx.options.idle_warmup_s, "idle warm-up")
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


def _server_figures(
    first: ServerCounters, last: ServerCounters, seconds: float,
    fed_by: dict[str, list[str]] | None = None,
) -> list[Figure]:  # fmt: skip
    """INSERT queries/s per market table (the load worker's count) against the goal, parts/s
    per table beside them, all INSERT queries/s, merged ÷ inserted rows."""
    fed_by = fed_by or {}
    out = [
        Figure(NAME, f"INSERT queries/s into {table}", (n - first.queries.get(table, 0)) / seconds,
               "/s", INSERTS_PER_TABLE, note="the load worker's own count of INSERT queries")
        for table, n in sorted(last.queries.items())
    ]  # fmt: skip
    for table, n in sorted(last.blocks.items()):
        out.append(_parts_figure(table, (n - first.blocks.get(table, 0)) / seconds,
                                 fed_by.get(table), table in last.queries))  # fmt: skip
    events = {e: last.events.get(e, 0) - first.events.get(e, 0) for e in EVENTS}
    out.append(Figure(NAME, "INSERT queries/s (server, all tables)",
                      events["InsertQuery"] / seconds, "/s"))  # fmt: skip
    if events["InsertedRows"]:
        note = f"{events['MergedRows']:,} merged ÷ {events['InsertedRows']:,} inserted"
        ratio = events["MergedRows"] / events["InsertedRows"]
        out.append(Figure(NAME, "merge write amplification", ratio, "×", AMPLIFICATION, note=note))
    return out


def _parts_figure(table: str, rate: float, sources: list[str] | None, counted: bool) -> Figure:
    """Parts/s written into ``table``: without the goal when the table's queries are counted
    or it is a materialized view's target (it gets a part per INSERT into each source)."""
    name = f"parts/s written into {table}"
    if sources:
        note = "materialized-view target: a part per INSERT into " + ", ".join(sources)
        return Figure(NAME, name, rate, "/s", note=note)
    if counted:
        return Figure(NAME, name, rate, "/s", note="a part per INSERT query (and day touched)")
    note = "no query count: parts (async inserts merge several queries into one part)"
    return Figure(NAME, name, rate, "/s", INSERTS_PER_TABLE, note=note)
