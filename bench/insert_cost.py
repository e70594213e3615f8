"""What ClickHouse spends per market-table INSERT, per schema and per-INSERT setting (issue 18).

``python -m bench.insert_cost`` starts a private ClickHouse server (the local stack's chdb-core
server, nothing else running in it), creates one pair of migrated databases per *arm* and sends
each arm the same serial ``INSERT INTO trades … FORMAT ArrowStream`` statements the load worker
sends (its :data:`~pipeline.load.insert.INSERT_SETTINGS`, one deduplication token per INSERT,
the rows cast to the table's column types by :mod:`pipeline.load.arrow`). The server's CPU is
read from ``/proc/<pid>/stat`` (utime + stime) around every INSERT, less the server's idle rate
(measured once merges have settled, before each round); the figure is milliseconds of server
CPU per INSERT, for INSERTs of each of ``--rows`` (default 50 and 500 rows). The arms take turns
INSERT by INSERT (the same rows into each arm's table, the order rotating), in ``--rounds``
rounds of ``--inserts`` INSERTs per arm, so a change in the machine's load falls on every arm
alike; each arm is printed as a ratio of the ``current`` arm of the same run.

Arms: ``current`` (migrations up to :data:`BASE_VERSION`, today's settings); one arm per
per-INSERT setting in :data:`SETTING_ARMS`; ``schema`` (every migration in ``clickhouse/``, so
the ones after :data:`BASE_VERSION`); ``one-candle-state`` (a measurement-only sketch: the
1-minute candle state's materialized view dropped, the cost of one view less); and the two
halves of migration 0019 alone (``schema, cascade only``: ``symbol_latest_mv`` dropped;
``schema, TTL only``: the daily table's roll-up TTL).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from clickhouse_connect.driver.client import Client

from bench.warehouse import BenchDatabases
from pipeline.codec import RecordType
from pipeline.load.arrow import for_table, schema, stream
from pipeline.load.insert import INSERT_SETTINGS, SERVER_BLOCK_ROWS
from pipeline.load.tables import column_names
from tickwatch import migrations
from tickwatch.clients import clickhouse_client
from tickwatch.settings import ClickHouseSettings
from tickwatch.stack.clickhouse_server import ClickHouseServer

BASE_VERSION = "0018"  # the schema the "current" arm measures against
SYMBOLS = [f"S{i:02d}" for i in range(20)]  # the simulator's default universe is 20 symbols
SETTING_ARMS: dict[str, dict[str, Any]] = {
    "parallel_view_processing": {"parallel_view_processing": 1},
    "optimize_on_insert=0": {"optimize_on_insert": 0},
    "max_threads=1": {"max_threads": 1, "max_insert_threads": 1},
}
TICKS_PER_S = 1_000_000 / 200  # event times 5 ms apart: 200 ticks/s, as the idle scenario


@dataclass
class Arm:
    """One way of writing the same rows: a schema (how its databases are prepared) and the
    settings each INSERT carries on top of the load worker's."""

    name: str
    prepare: Callable[[Client, BenchDatabases], None]
    settings: dict[str, Any] = field(default_factory=dict)
    cpu_ms: dict[int, list[float]] = field(default_factory=dict)  # rows -> per-round ms/INSERT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="50,500", help="rows per INSERT, comma-separated")
    parser.add_argument("--inserts", type=int, default=100, help="INSERTs per arm and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--arms", default="", help="comma-separated arm names (default: all)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so that `finally` stops the server
    state = Path(tempfile.mkdtemp(prefix="tickwatch-insert-cost-"))
    server = ClickHouseServer(state / "data", state / "run", ready_timeout_s=120.0)
    server.start()
    try:
        client = clickhouse_client(ClickHouseSettings(), server.url)
        print(f"ClickHouse {client.command('SELECT version()')}, load {_loadavg()}")
        arms = _arms([a for a in args.arms.split(",") if a])
        sizes = tuple(int(n) for n in args.rows.split(","))
        _run(client, server, arms, sizes, inserts=args.inserts, rounds=args.rounds)
        print(f"load average at the end: {_loadavg()}")
        _report(arms, sizes)
    finally:
        server.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _arms(only: list[str]) -> list[Arm]:
    arms = [Arm("current", _migrate_base)]
    arms += [Arm(name, _migrate_base, values) for name, values in SETTING_ARMS.items()]
    arms += [Arm("schema", _migrate_all), Arm("one-candle-state", _one_candle_state)]
    arms += [Arm("schema, cascade only", _no_cascade), Arm("schema, TTL only", _ttl_only)]
    chosen = [a for a in arms if not only or a.name in only or a.name == "current"]
    unknown = set(only) - {a.name for a in arms}
    if unknown:
        raise SystemExit(f"--arms: unknown {sorted(unknown)}; known {[a.name for a in arms]}")
    return chosen


def _migrate_base(client: Client, databases: BenchDatabases) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for m in migrations.discover():
            if m.version <= BASE_VERSION:
                (Path(tmp) / m.path.name).symlink_to(m.path)
        migrations.apply(client, databases.settings, Path(tmp))


def _migrate_all(client: Client, databases: BenchDatabases) -> None:
    migrations.apply(client, databases.settings)


def _no_cascade(client: Client, databases: BenchDatabases) -> None:
    """Migration 0019's first statement alone: symbol_latest_mv dropped, nothing else."""
    _migrate_base(client, databases)
    client.command(f"DROP VIEW {databases.market}.symbol_latest_mv")


def _ttl_only(client: Client, databases: BenchDatabases) -> None:
    """Migration 0019's TTL (the roll-up of expired days) alone, the view left in place."""
    _migrate_base(client, databases)
    (statement,) = [
        s
        for m in migrations.discover()
        if m.version == "0019"
        for s in m.statements(databases.settings)
        if "MODIFY TTL" in s
    ]
    client.command(statement)


def _one_candle_state(client: Client, databases: BenchDatabases) -> None:
    _migrate_base(client, databases)
    client.command(f"DROP VIEW {databases.market}.candles_1m_mv")


def _run(
    client: Client,
    server: ClickHouseServer,
    arms: list[Arm],
    sizes: tuple[int, ...],
    *,
    inserts: int,
    rounds: int,
) -> None:
    pid = server.pid
    assert pid is not None
    names = list(column_names(RecordType.TRADE))
    tables = []
    for i, arm in enumerate(arms):
        databases = BenchDatabases(f"ic{i}_market", f"ic{i}_ops")
        for database in (databases.market, databases.ops):
            client.command(f"DROP DATABASE IF EXISTS {database} SYNC")
        arm.prepare(client, databases)
        tables.append(f"{databases.market}.trades")
    target = _target_schema(client, tables[0], names)
    base_us, offset = int(time.time() * 1e6), 0
    for r in range(rounds):
        for rows in sizes:
            blocks = []
            for _ in range(inserts):
                blocks.append(stream(for_table(_rows(rows, base_us, offset), target, "trades")))
                offset += rows
            _settle(client)
            idle = _idle_cpu(pid, 2.0)
            spent = _round_robin(
                client, pid, tables, names, blocks, arms=arms, idle=idle, tag=f"{r}:{rows}"
            )
            for arm, cpu_s in zip(arms, spent, strict=True):
                ms = cpu_s * 1000 / inserts
                arm.cpu_ms.setdefault(rows, []).append(ms)
                print(f"round {r + 1} {rows:>5} rows {arm.name:<26} {ms:6.2f} ms/INSERT")


def _round_robin(
    client: Client,
    pid: int,
    tables: list[str],
    names: list[str],
    blocks: list[pa.Buffer],
    *,
    arms: list[Arm],
    idle: float,
    tag: str,
) -> list[float]:
    """Each block into every arm's table in turn (the arms' order rotating), the server's CPU
    read around every INSERT less ``idle`` CPU-s per second: seconds of CPU per arm. The
    clock ticks (10 ms) are coarser than one INSERT, but the kernel charges them to whatever
    runs when they fall, so the sum over many INSERTs is unbiased; merges running meanwhile
    fall on the arms alike."""
    spent = [0.0] * len(arms)
    for j, block in enumerate(blocks):
        for k in range(len(arms)):
            i = (j + k) % len(arms)
            settings = {
                **INSERT_SETTINGS,
                "min_insert_block_size_rows": SERVER_BLOCK_ROWS,
                **arms[i].settings,
                "insert_deduplication_token": f"insert-cost:{tag}:{j}",
            }
            t0, c0 = time.monotonic(), _cpu_s(pid)
            client.raw_insert(tables[i], names, block, fmt="ArrowStream", settings=settings)
            spent[i] += _cpu_s(pid) - c0 - idle * (time.monotonic() - t0)
    return spent


def _settle(client: Client, quiet_s: float = 1.0, limit_s: float = 30.0) -> None:
    """Wait until no merge has run for ``quiet_s`` (at most ``limit_s``), so that the idle
    rate is measured idle."""
    deadline, quiet_since = time.monotonic() + limit_s, time.monotonic()
    while time.monotonic() < deadline:
        if str(client.command("SELECT count() FROM system.merges")) != "0":
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        time.sleep(0.1)


def _idle_cpu(pid: int, seconds: float) -> float:
    """The server's CPU seconds per second while nobody queries it."""
    cpu0, t0 = _cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return (_cpu_s(pid) - cpu0) / (time.monotonic() - t0)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _target_schema(client: Client, table: str, names: list[str]) -> pa.Schema:
    context = client.create_insert_context(table, names, column_oriented=True)
    return schema(table, names, [t.name for t in context.column_types])


def _rows(n: int, base_us: int, offset: int) -> pa.Table:
    """``n`` trades of the 20 symbols, 5 ms apart in event time, continuing at ``offset``."""
    rng = np.random.default_rng(offset)
    index = np.arange(offset, offset + n)
    event_us = base_us + (index * TICKS_PER_S).astype(np.int64)
    now_us = int(time.time() * 1e6)
    times = {"event_time": event_us, "received_at": event_us + 1000, "inserted_at": [now_us] * n}
    columns: dict[str, Any] = {
        "symbol": [SYMBOLS[i % len(SYMBOLS)] for i in index],
        "asset_class": ["equity"] * n,
        "price": rng.uniform(10, 500, n),
        "size": rng.integers(1, 500, n).astype(np.float64),
        "exchange": ["V"] * n,
        "trade_id": [str(i) for i in index],
        "conditions": [["@"]] * n,
        "instrument": [SYMBOLS[i % len(SYMBOLS)] for i in index],
        "venue": ["XNAS"] * n,
        "tape": ["C"] * n,
        "updates_open_close": [1] * n,
        "updates_high_low": [1] * n,
        "updates_volume": [1] * n,
        "source": ["simulator"] * n,
        "kafka_time": pa.array(event_us // 1000 + 2, pa.timestamp("ms", tz="UTC")),
        "kafka_partition": pa.array([0] * n, pa.uint16()),
        "kafka_offset": pa.array(index, pa.uint64()),
    }
    for name, values in times.items():
        columns[name] = pa.array(np.asarray(values, np.int64), pa.timestamp("us", tz="UTC"))
    return pa.table({name: columns[name] for name in column_names(RecordType.TRADE)})


def _report(arms: list[Arm], sizes: tuple[int, ...]) -> None:
    base = arms[0]
    print(f"\n{'arm':<26}" + "".join(f"{f'{n} rows: ms/INSERT':>22}{'ratio':>8}" for n in sizes))
    for arm in arms:
        line = f"{arm.name:<26}"
        for n in sizes:
            ms, ref = float(np.median(arm.cpu_ms[n])), float(np.median(base.cpu_ms[n]))
            line += f"{ms:>22.2f}{ms / ref if ref else float('nan'):>8.2f}"
        print(line)
    print("(server CPU per INSERT, median over rounds; ratio = arm / current in this run)")


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    raise SystemExit(main())
