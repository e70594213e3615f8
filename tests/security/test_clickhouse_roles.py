"""Least privilege in ClickHouse, on the real local server: each role can do its job only.

The server's users come from ``tickwatch.access.users_xml`` (the embedded engine keeps users in
its XML directory only; SQL ``CREATE USER`` has no writable storage there). The SQL rendering
for servers with SQL access management is checked by the engine's own parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError
from pydantic import SecretStr

from tickwatch.access import GRAFANA_LIMITS, role_users, users_sql, users_xml
from tickwatch.clients import clickhouse_client

from .conftest import RoleClickHouse, role_settings

pytestmark = pytest.mark.clickhouse
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def clients(role_clickhouse: RoleClickHouse) -> Iterator[dict[str, Client]]:
    made = {
        role: clickhouse_client(role_clickhouse.settings.as_role(role), role_clickhouse.url)
        for role in ("migrate", "load", "telemetry", "monitor", "grafana")
    }
    try:
        yield made
    finally:
        for client in made.values():
            client.close()


def _denied(run: object) -> str:
    with pytest.raises(DatabaseError) as caught:
        run()  # type: ignore[operator]
    text = str(caught.value)
    assert "ACCESS_DENIED" in text or "READONLY" in text, text
    return text


def _heartbeat(client: Client, ops: str) -> None:
    client.command(
        f"INSERT INTO {ops}.heartbeats (time, service, instance) VALUES (now64(3), 'x', 'y')"
    )


def test_load_inserts_ticks_and_dead_letters_only(
    role_clickhouse: RoleClickHouse, clients: dict[str, Client]
) -> None:
    s, load = role_clickhouse.settings, clients["load"]
    load.command(
        f"INSERT INTO {s.market_database}.trades (symbol, event_time, price, size) "
        "VALUES ('AAA', now64(3), 1.5, 10)"
    )
    load.command(f"INSERT INTO {s.ops_database}.dead_letters (reason) VALUES ('test')")
    _denied(lambda: load.query(f"SELECT count() FROM {s.ops_database}.alert_events"))
    _denied(lambda: load.query(f"SELECT count() FROM {s.ops_database}.heartbeats"))
    _denied(lambda: _heartbeat(load, s.ops_database))
    _denied(lambda: load.command(f"DROP TABLE {s.market_database}.trades"))


def test_telemetry_writes_its_tables_and_nothing_else(
    role_clickhouse: RoleClickHouse, clients: dict[str, Client]
) -> None:
    s, telemetry = role_clickhouse.settings, clients["telemetry"]
    _heartbeat(telemetry, s.ops_database)
    _denied(
        lambda: telemetry.command(
            f"INSERT INTO {s.market_database}.trades (symbol, price) VALUES ('AAA', 1)"
        )
    )
    _denied(
        lambda: telemetry.command(
            f"INSERT INTO {s.ops_database}.health_checks (check) VALUES ('x')"
        )
    )
    _denied(lambda: telemetry.query(f"SELECT count() FROM {s.ops_database}.heartbeats"))


def test_monitor_reads_everything_and_writes_only_its_results(
    role_clickhouse: RoleClickHouse, clients: dict[str, Client]
) -> None:
    s, monitor = role_clickhouse.settings, clients["monitor"]
    monitor.query(f"SELECT count() FROM {s.market_database}.trades")
    monitor.query(f"SELECT count() FROM {s.ops_database}.heartbeats")
    monitor.command(f"INSERT INTO {s.ops_database}.health_checks (check) VALUES ('x')")
    _denied(lambda: _heartbeat(monitor, s.ops_database))  # alert keys are built from these
    _denied(
        lambda: monitor.command(f"INSERT INTO {s.market_database}.trades (symbol) VALUES ('A')")
    )


def test_grafana_is_read_only_with_limits(
    role_clickhouse: RoleClickHouse, clients: dict[str, Client]
) -> None:
    s, grafana = role_clickhouse.settings, clients["grafana"]
    grafana.query(f"SELECT count() FROM {s.ops_database}.heartbeats")
    rows = grafana.query(
        "SELECT name, value FROM system.settings WHERE name IN {names:Array(String)}",
        parameters={"names": list(GRAFANA_LIMITS)},
    ).result_rows
    assert {str(name): str(value) for name, value in rows} == GRAFANA_LIMITS
    _denied(lambda: _heartbeat(grafana, s.ops_database))
    _denied(lambda: grafana.command(f"CREATE TABLE {s.ops_database}.x (a UInt8) ENGINE = Memory"))


def test_only_migrate_changes_the_schema(
    role_clickhouse: RoleClickHouse, clients: dict[str, Client]
) -> None:
    s = role_clickhouse.settings
    ddl = f"CREATE TABLE IF NOT EXISTS {s.ops_database}.scratch (a UInt8) ENGINE = Memory"
    for role in ("load", "telemetry", "monitor"):
        _denied(lambda role=role: clients[role].command(ddl))
    clients["migrate"].command(ddl)
    clients["migrate"].command(f"DROP TABLE {s.ops_database}.scratch")


def test_wrong_password_is_refused(role_clickhouse: RoleClickHouse) -> None:
    s = role_clickhouse.settings.model_copy(update={"load_password": SecretStr("wrong")})
    with pytest.raises(DatabaseError, match="AUTHENTICATION_FAILED"):
        clickhouse_client(s.as_role("load"), role_clickhouse.url)


def test_sql_rendering_parses_in_the_engine_and_hides_passwords(
    role_clickhouse: RoleClickHouse, clients: dict[str, Client]
) -> None:
    settings = role_settings("", "parse")
    statements = list(users_sql(role_users(settings)))
    assert len(statements) == 5 * 3 + sum(len(u.privileges) for u in role_users(settings))
    for statement in statements:
        formatted = (
            clients["grafana"]
            .query("SELECT formatQuery({q:String})", parameters={"q": statement})
            .result_rows[0][0]
        )
        assert formatted.split()[0] == statement.split()[0]
    text = "\n".join(statements)
    for role in ("migrate", "load", "telemetry", "monitor", "grafana"):
        assert settings.role_credentials(role)[1] not in text
    assert (
        "readonly = 1" in text and "GRANT INSERT ON ops_parse.heartbeats TO `tw_telemetry`" in text
    )


def test_migrate_cli_skips_sql_users_on_the_local_server_and_migrates_as_its_role(
    role_clickhouse: RoleClickHouse, capsys: pytest.CaptureFixture[str]
) -> None:
    from tickwatch.migrate_cli import run_migrate
    from tickwatch.settings import Settings

    assert run_migrate(Settings(_env_file=None, clickhouse=role_clickhouse.settings)) == 0
    out = capsys.readouterr().out
    assert "users.xml" in out and "tw_migrate (migrate)" in out
    assert "schema is up to date" in out  # the fixture already migrated, as tw_migrate


def test_users_xml_holds_hashes_not_passwords() -> None:
    settings = role_settings("", "xml")
    text = users_xml(role_users(settings))
    for role in ("migrate", "load", "telemetry", "monitor", "grafana"):
        username, password = settings.role_credentials(role)
        assert f"<{username}>" in text and password not in text
    assert "<readonly>1</readonly>" in text
    assert "<access_management>1</access_management></default>" in text


def test_local_stack_clickhouse_enforces_configured_role_users(tmp_path: Path) -> None:
    from tests.conftest import _guard
    from tickwatch.settings import Settings
    from tickwatch.stack import components

    roles = role_settings("", "stack")
    settings = Settings(_env_file=None, clickhouse=roles)
    record = components.start_clickhouse(settings, tmp_path, {})
    _guard(str(record["url"]), "clickhouse")
    try:
        grafana = clickhouse_client(roles.as_role("grafana"), str(record["url"]))
        try:
            assert grafana.command("SELECT getSetting('readonly')") == 1
        finally:
            grafana.close()
        wrong = roles.model_copy(update={"grafana_password": SecretStr("nope")})
        with pytest.raises(DatabaseError, match="AUTHENTICATION_FAILED"):
            clickhouse_client(wrong.as_role("grafana"), str(record["url"]))
    finally:
        components.stop("clickhouse", record)
