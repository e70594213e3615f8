"""Scenario 5 (issue 18): what the pipeline costs when the feed is quiet.

The simulator ingest worker at ``IDLE_RATE`` ticks/s and one load worker run for a warm-up,
then for a window of ``latency_window_s`` seconds. Over the window: CPU per process from
``/proc/<pid>/stat`` (utime + stime, as a share of one core) for ingest, load, the Kafka broker
and the ClickHouse server (the last two only when this run started them); ClickHouse's INSERTs
per second per table and merged ÷ inserted rows from ``system.part_log`` (new parts = inserts,
merged parts' rows = merge writes) of this run's databases. The detector is not started here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.context import BenchContext
from bench.deadline import Deadline
from bench.figures import Figure, Goal
from bench.live import ingest_worker, start_load

NAME = "idle"
IDLE_RATE = 200
WARMUP_S = 5.0
TOTAL_CORE = Goal("≤ 15 % of one core (whole stack)", 0.15, higher_is_better=False)
CLICKHOUSE_CORE = Goal("≤ 7 % of one core", 0.07, higher_is_better=False)
INSERTS_PER_TABLE = Goal("≤ 1 INSERT/s per table", 1.0, higher_is_better=False)
AMPLIFICATION = Goal("≤ 10× merged ÷ inserted rows", 10.0, higher_is_better=False)
PART_LOG_SQL = """
SELECT table, countIf(event_type = 'NewPart') AS inserts,
       sumIf(rows, event_type = 'NewPart') AS inserted,
       sumIf(rows, event_type = 'MergeParts') AS merged
FROM system.part_log
WHERE database = {db:String} AND event_time >= fromUnixTimestamp({since:UInt32})
  AND event_time < fromUnixTimestamp({until:UInt32})
GROUP BY table ORDER BY table
"""


def cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` in clock ticks, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """CPU per process, INSERTs/s per table and merge amplification at ``IDLE_RATE``."""
    topics = ctx.topics("idle")
    databases = ctx.warehouse.fresh(ctx.name("idle"))
    window = ctx.options.latency_window_s
    load = start_load(ctx, "idle", topics, databases, deadline)
    ingest = ingest_worker(ctx, "idle-ingest", topics=topics, databases=databases,
                           rate=IDLE_RATE, duration_s=0)  # fmt: skip
    try:
        with load, ingest.start():
            deadline.sleep(WARMUP_S, "idle warm-up")
            pids = {"ingest worker": ingest.pid, "load worker": load.pid}
            pids.update(_services(ctx))
            before = {name: cpu_ticks(pid) for name, pid in pids.items()}
            since = time.time()
            deadline.sleep(window, "idle window")
            after = {name: cpu_ticks(pid) for name, pid in pids.items()}
            until = time.time()
        ctx.warehouse.client.command("SYSTEM FLUSH LOGS")
        tables = ctx.warehouse.client.query(
            PART_LOG_SQL, parameters={"db": databases.market, "since": int(since) + 1,
                                      "until": int(until)},
        ).result_rows  # fmt: skip
    finally:
        ctx.warehouse.drop(databases)
    seconds = until - since
    return _cpu_figures(before, after, seconds) + _table_figures(tables, int(until) - int(since))


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


def _table_figures(tables: Sequence[Sequence[Any]], seconds: int) -> list[Figure]:
    out: list[Figure] = []
    inserted_all = merged_all = 0
    for table, inserts, inserted, merged in tables:
        out.append(Figure(NAME, f"INSERTs/s into {table}", inserts / max(seconds, 1), "/s",
                          INSERTS_PER_TABLE, note=f"{inserted:,} rows"))  # fmt: skip
        inserted_all += inserted
        merged_all += merged
    if inserted_all:
        note = f"{merged_all:,} merged ÷ {inserted_all:,} inserted"
        ratio = merged_all / inserted_all
        out.append(Figure(NAME, "merge write amplification", ratio, "×", AMPLIFICATION, note=note))
    return out
