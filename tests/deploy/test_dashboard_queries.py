"""Every ClickHouse query of every dashboard runs on the real ClickHouse and returns rows.

Data first: the real workers run against the harness's Kafka and ClickHouse for a few
seconds (``tickwatch load`` and ``tickwatch monitor`` as processes, then ``tickwatch ingest`` with
the simulator and some malformed records), so the market tables, candles, dead letters, spans,
logs, heartbeats and detector results are the workers' own. A short healthy run seldom opens an
alert or sends an email: a query that still returns nothing gets realistic rows for the table it
reads (``seed_rows``), and the test prints which tables were seeded.

Then each panel query, annotation and query variable is expanded like Grafana and the ClickHouse
plugin would (``grafana_macros``), with the dashboard's own time range and variables, the
``market.`` / ``ops.`` databases swapped for the test's, and executed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from tickwatch.settings import ClickHouseSettings, Settings

from .grafana_macros import QueryContext, VariableValue, clickhouse_sql, parse_relative
from .grafana_model import CLICKHOUSE_TYPE, Json, Query, iter_queries, load_dashboards
from .pipeline_run import Worker, start_worker, wait_for, worker_env
from .seed_rows import SEEDERS, Seeder, utc_now

pytestmark = [pytest.mark.clickhouse, pytest.mark.kafka, pytest.mark.smtp, pytest.mark.slow]

DASHBOARDS = load_dashboards()
INGEST_SECONDS = 8
_TABLE = re.compile(r"\b(?:FROM|JOIN)\s+((?:market|ops)\.\w+)", re.IGNORECASE)


def _count(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def _run_real_pipeline(
    settings: Settings, client: Client, env: dict[str, str], workdir: Path
) -> str:
    """Run load + monitor, then ingest to its end; stop all; return a one-line summary."""
    ch = settings.clickhouse
    workers: list[Worker] = [
        start_worker("load", env, workdir / "load"),
        start_worker("monitor", env, workdir / "monitor"),
    ]
    try:
        ingest = start_worker("ingest", env, workdir / "ingest")
        workers.append(ingest)
        ingest.process.wait(INGEST_SECONDS + 60)
        wait_for(
            lambda: (
                _count(client, f"SELECT count() FROM {ch.market_database}.trades") > 0
                and _count(
                    client,
                    f"SELECT count() FROM {ch.ops_database}.otel_traces "
                    "WHERE SpanName LIKE 'load.%'",
                )
                > 0
            ),
            timeout_s=30,
        )
    finally:
        codes = {w.command: w.stop() for w in workers}
    for worker in workers:
        if codes[worker.command] not in (0, -15):
            print(f"--- {worker.command} exited {codes[worker.command]}:\n{worker.output_tail()}")
    trades = _count(client, f"SELECT count() FROM {ch.market_database}.trades")
    return f"real pipeline: exit codes {codes}, {trades} trades inserted"


def _variables(
    name: str,
    dashboard: Json,
    ctx: QueryContext,
    run: Callable[[str], list[Any]],
    databases: dict[str, str],
) -> dict[str, VariableValue]:
    """Resolve the dashboard's variables as Grafana would on load (first value, or All)."""
    values: dict[str, VariableValue] = {}
    for variable in dashboard["templating"]["list"]:
        kind, current = variable["type"], variable.get("current", {}).get("value", "")
        if kind == "query":
            rows = run(clickhouse_sql(variable["query"], values, ctx, databases))
            assert rows, f"{name}: variable ${variable['name']} has no values"
            values[variable["name"]] = str(rows[0][0])
        elif kind == "custom":
            options = [o.strip() for o in variable["query"].split(",")]
            selected = current if isinstance(current, list) else [current]
            values[variable["name"]] = options if "$__all" in selected else selected
        else:
            values[variable["name"]] = current if isinstance(current, str) else current[0]
    return values


def _context(dashboard: Json, now: datetime) -> QueryContext:
    start = parse_relative(dashboard["time"]["from"], now)
    end = parse_relative(dashboard["time"]["to"], now)
    return QueryContext.last(end - start, now=end)


def _clickhouse_queries() -> Iterator[tuple[str, Json, Query]]:
    for name, dashboard in DASHBOARDS.items():
        for query in iter_queries(name, dashboard):
            if query.datasource_type == CLICKHOUSE_TYPE and not query.where.startswith("var"):
                yield name, dashboard, query


def _tables(sql: str) -> list[str]:
    return [t for t in _TABLE.findall(sql) if t in SEEDERS]


def test_every_clickhouse_panel_query_returns_rows(
    settings: Settings,
    ch_client: Client,
    smtp_server: Callable[..., Any],
    tmp_path: Path,
) -> None:
    ch: ClickHouseSettings = settings.clickhouse
    smtp = smtp_server()
    env = worker_env(settings, smtp.host, smtp.port, INGEST_SECONDS)
    print(_run_real_pipeline(settings, ch_client, env, tmp_path))
    databases = {"market": ch.market_database, "ops": ch.ops_database}

    def run(sql: str) -> list[Any]:
        return list(ch_client.query(sql).result_rows)

    def failures() -> dict[str, tuple[str, str]]:
        """query -> (error or "no rows", the SQL sent) for every query that came back empty."""
        now = utc_now()
        found: dict[str, tuple[str, str]] = {}
        for name, dashboard, query in _clickhouse_queries():
            ctx = _context(dashboard, now)
            sql = clickhouse_sql(
                query.text, _variables(name, dashboard, ctx, run, databases), ctx, databases
            )
            assert "$" not in sql.replace("$$", ""), f"{query}: unexpanded macro in\n{sql}"
            try:
                if not run(sql):
                    found[str(query)] = ("no rows", sql)
            except ClickHouseError as exc:
                found[str(query)] = (f"ClickHouse error: {exc}", sql)
        return found

    empty = failures()
    seeded: list[str] = []
    done: set[Seeder] = set()
    for _where, (_, sql) in empty.items():
        for table in _tables(
            sql.replace(ch.market_database, "market").replace(ch.ops_database, "ops")
        ):
            seeder = SEEDERS[table]
            if seeder not in done:
                seeder(ch_client, ch, utc_now())
                done.add(seeder)
                seeded.append(table)
    print(f"tables seeded after the real run: {sorted(seeded) or 'none'}")
    still = failures() if seeded else empty
    report = "\n\n".join(f"{where}: {why}\n{sql}" for where, (why, sql) in still.items())
    assert not still, f"{len(still)} dashboard queries failed:\n\n{report}"


def test_the_symbol_variable_lists_the_symbols_seen(
    ch_settings: ClickHouseSettings, ch_client: Client
) -> None:
    SEEDERS["market.trades"](ch_client, ch_settings, utc_now())
    market = DASHBOARDS["market"]
    variable = next(v for v in market["templating"]["list"] if v["name"] == "symbol")
    ctx = _context(market, utc_now())
    sql = clickhouse_sql(
        variable["query"],
        {},
        ctx,
        {"market": ch_settings.market_database, "ops": ch_settings.ops_database},
    )
    symbols = [row[0] for row in ch_client.query(sql).result_rows]
    assert symbols == sorted(symbols)
    assert {"AAPL", "BTC-USD"} <= set(symbols)
