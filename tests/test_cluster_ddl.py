"""Cluster DDL: the rewrite rules (unit) and every generated statement parsed by the real engine."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from tickwatch import migrations
from tickwatch.cluster_ddl import (
    ClusterDDLError,
    ClusterLayout,
    ClusterSchema,
    ledger_statements,
)
from tickwatch.settings import ClickHouseSettings

REPLICATED = ClickHouseSettings(cluster="tw")
SHARDED = ClickHouseSettings(cluster="tw", cluster_replicated=False, shard_urls="http://a,http://b")
_LOCAL_ENGINE_RE = re.compile(
    r"ENGINE = (Replicated)?(\w*MergeTree)\('([^']*)', '([^']*)'(?:, [^)]*)?\)"
)


def _all(settings: ClickHouseSettings) -> list[str]:
    layout = ClusterLayout.from_settings(settings)
    assert layout is not None
    ledger = ledger_statements(layout, settings.ops_database)
    return ledger + [s for _, statements in migrations.planned(settings) for s in statements]


def test_single_node_statements_are_unchanged() -> None:
    for migration, statements in migrations.planned(ClickHouseSettings()):
        assert statements == migration.statements(ClickHouseSettings())


def test_every_replicated_table_names_both_macros_and_runs_on_cluster() -> None:
    statements = _all(REPLICATED)
    creates = [s for s in statements if s.startswith("CREATE TABLE")]
    local = [s for s in creates if "Distributed(" not in s]
    assert local, "no local tables generated"
    for statement in statements:  # a one-off backfill INSERT runs once, on one node
        if not statement.startswith("INSERT"):
            assert " ON CLUSTER 'tw'" in statement.splitlines()[0], statement
    for statement in local:
        engine = _LOCAL_ENGINE_RE.search(statement)
        assert engine is not None, statement
        assert engine[1] == "Replicated"
        assert engine[3].startswith("/clickhouse/tables/")
        assert "{shard}" in engine[3] or "schema_migrations" in engine[3]
        assert "{replica}" in engine[4]
        assert "non_replicated_deduplication_window" not in statement


def test_shard_path_is_per_table_and_the_ledger_is_shared_by_all_nodes() -> None:
    statements = _all(REPLICATED)
    paths = [m[3] for s in statements if (m := _LOCAL_ENGINE_RE.search(s))]
    assert len(paths) == len(set(paths))
    assert "/clickhouse/tables/{shard}/market/trades_local" in paths
    assert "/clickhouse/tables/tw/ops/schema_migrations" in paths  # no {shard}: one record


def test_every_table_gets_a_distributed_table_under_the_single_node_name() -> None:
    statements = _all(REPLICATED)
    text = "\n".join(statements)
    assert (
        "CREATE TABLE IF NOT EXISTS market.trades ON CLUSTER 'tw' AS market.trades_local\n"
        "ENGINE = Distributed('tw', market, trades_local, kafka_partition)"
    ) in text
    assert "Distributed('tw', ops, heartbeats_local, rand())" in text
    single = [s for _, st in migrations.planned(ClickHouseSettings()) for s in st]
    tables = {m[1] for s in single if (m := re.match(r"CREATE TABLE IF NOT EXISTS (\S+)", s))}
    for table in tables:
        assert f"AS {table}_local\nENGINE = Distributed(" in text, table


def test_materialized_views_read_and_write_local_tables_and_views_read_distributed() -> None:
    text = "\n".join(_all(REPLICATED))
    assert "TO market.candles_1s_state_local AS" in text
    assert "FROM market.trades_local\nGROUP BY" in text
    assert "FROM ops.otel_traces_local\nWHERE" in text
    assert "FROM market.candles_1s_state\nGROUP BY" in text  # the read view: Distributed


def test_alter_applies_to_local_and_distributed_tables() -> None:
    text = "\n".join(_all(REPLICATED))
    assert "ALTER TABLE ops.alert_events_local ON CLUSTER 'tw'\nMODIFY COLUMN" in text
    assert "ALTER TABLE ops.alert_events ON CLUSTER 'tw'\nMODIFY COLUMN" in text


def test_non_replicated_layout_has_plain_engines_and_no_on_cluster() -> None:
    statements = _all(SHARDED)
    assert not any("ON CLUSTER" in s or "Replicated" in s for s in statements)
    assert any("non_replicated_deduplication_window" in s for s in statements)
    assert any("ENGINE = Distributed('tw', market, trades_local" in s for s in statements)


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE IF NOT EXISTS m.t (a UInt8) ENGINE = Memory",
        "CREATE TABLE m.t (a UInt8) ENGINE = MergeTree ORDER BY a",
        "DROP TABLE m.t",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS m.v TO m.unknown AS SELECT 1",
    ],
)
def test_unknown_forms_are_refused_naming_the_statement(statement: str) -> None:
    schema = ClusterSchema(ClusterLayout("tw", replicated=True))
    with pytest.raises(ClusterDDLError, match="m\\."):
        schema.rewrite(statement)


def test_a_migration_that_cannot_be_rewritten_names_its_file(tmp_path: Path) -> None:
    directory = tmp_path
    (directory / "0001_bad.sql").write_text("DROP TABLE {market}.trades;\n")
    with pytest.raises(migrations.MigrationError, match=r"0001_bad\.sql"):
        migrations.planned(REPLICATED, directory)


@pytest.fixture
def engine(clickhouse_url: str) -> Iterator[Client]:
    from tickwatch.clients import clickhouse_client

    client = clickhouse_client(ClickHouseSettings(), clickhouse_url)
    try:
        yield client
    finally:
        client.close()


@pytest.mark.clickhouse
@pytest.mark.parametrize("settings", [REPLICATED, SHARDED], ids=["replicated", "sharded"])
def test_every_cluster_statement_parses_on_the_real_engine(
    engine: Client, settings: ClickHouseSettings
) -> None:
    for statement in _all(settings):
        formatted = str(
            engine.query("SELECT formatQuery({q:String})", parameters={"q": statement}).result_rows[
                0
            ][0]
        )
        if settings.cluster_replicated and not statement.startswith("INSERT"):
            assert "ON CLUSTER tw" in formatted, formatted
        if "Replicated" in formatted:
            assert "{shard}" in formatted or "schema_migrations" in formatted
            assert "{replica}" in formatted
        ast = engine.raw_query("EXPLAIN AST " + statement, fmt="TabSeparated").decode()
        assert ast.startswith(("CreateQuery", "AlterQuery", "DropQuery", "InsertQuery")), ast


def test_engine_parameters_backfills_and_ttl_changes_on_a_cluster() -> None:
    """Forms later migrations use: an engine with its own parameters keeps them after the
    replication arguments; a one-off backfill INSERT reads and writes the Distributed tables when
    run once (replicated) and copies local to local when applied to every node; a TTL change
    and a data skipping index go to the local table only (a Distributed table holds no data)."""
    create = (
        "CREATE TABLE IF NOT EXISTS m.t (a UInt8, v UInt8) "
        "ENGINE = ReplacingMergeTree(v) ORDER BY a"
    )
    backfill = "INSERT INTO m.t SELECT a, v FROM m.src"
    ttl = "ALTER TABLE m.t MODIFY TTL now() + INTERVAL 1 DAY WHERE 0"
    source = "CREATE TABLE IF NOT EXISTS m.src (a UInt8, v UInt8) ENGINE = MergeTree ORDER BY a"
    for replicated in (True, False):
        schema = ClusterSchema(ClusterLayout("tw", replicated))
        schema.rewrite(source)
        local, _ = schema.rewrite(create)
        (insert,) = schema.rewrite(backfill)
        (alter,) = schema.rewrite(ttl)
        assert alter.startswith("ALTER TABLE m.t_local")
        for index in (
            "ALTER TABLE m.t ADD INDEX IF NOT EXISTS i a TYPE minmax GRANULARITY 1",
            "ALTER TABLE m.t MATERIALIZE INDEX i",
        ):  # a data skipping index lives with the data: the local table only (migration 0018)
            (alter,) = schema.rewrite(index)
            assert alter.startswith("ALTER TABLE m.t_local")
        if replicated:
            assert (
                "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/m/t_local', "
                "'{replica}', v)" in local
            )
            assert insert.startswith("INSERT INTO m.t\n") and "FROM m.src" in insert
        else:
            assert "ENGINE = ReplacingMergeTree(v)" in local
            assert insert.startswith("INSERT INTO m.t_local") and "FROM m.src_local" in insert


def test_a_views_in_subqueries_over_distributed_tables_are_global() -> None:
    schema = ClusterSchema(ClusterLayout("tw", False))
    schema.rewrite("CREATE TABLE IF NOT EXISTS m.t (a UInt8) ENGINE = MergeTree ORDER BY a")
    (view,) = schema.rewrite(
        "CREATE OR REPLACE VIEW m.v AS SELECT a FROM m.t WHERE a IN (SELECT a FROM m.t) "
        "AND (a, a) NOT IN\n    (SELECT a, a FROM m.t)"
    )
    assert "WHERE a GLOBAL IN (SELECT" in view
    assert "GLOBAL NOT IN\n    (SELECT" in view


def test_drop_table_drops_the_distributed_and_the_local_table_and_frees_the_name() -> None:
    schema = ClusterSchema(ClusterLayout("tw", replicated=True))
    schema.rewrite("CREATE TABLE IF NOT EXISTS m.t (a UInt8) ENGINE = MergeTree ORDER BY a")
    assert schema.rewrite("DROP TABLE IF EXISTS m.t") == [
        "DROP TABLE IF EXISTS m.t ON CLUSTER 'tw'",
        "DROP TABLE IF EXISTS m.t_local ON CLUSTER 'tw'",
    ]
    assert "m.t_local" not in schema.local_tables()
    with pytest.raises(ClusterDDLError, match=r"m\.t is not a table"):
        schema.rewrite("DROP TABLE IF EXISTS m.t")
