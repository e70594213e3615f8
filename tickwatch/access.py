"""Least-privilege ClickHouse users, one per role, from one table of grants.

Roles (who runs as it: what it may do):

* ``migrate`` — ``tickwatch migrate``: DDL, SELECT and INSERT in the two databases;
* ``load`` — the load worker's inserts: INSERT on trades, quotes, bars (and the candle and
  symbol-activity views' targets), dead_letters and pipeline_events;
* ``telemetry`` — every worker's span/log/metric/heartbeat exporter: INSERT on those ops tables;
* ``monitor`` — the downtime detector: SELECT in both databases, INSERT on its ops tables;
* ``grafana`` — the Grafana datasource: SELECT only, ``readonly=1`` and resource limits.

Two renderings of the same grants:

* :func:`users_sql` — ``CREATE USER`` / ``GRANT`` statements for a ClickHouse server with SQL
  access management (the official server in compose; ``python -m tickwatch.access_cli``);
* :func:`users_xml` — a ``users.xml`` for the local chdb-core server, whose embedded engine
  (clickhouse-local) keeps users only in its XML user directory: ``CREATE USER`` there fails with
  ``ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND``, but users, passwords, ``<grants>`` and profiles
  from ``users.xml`` are enforced on its HTTP interface.

Passwords are given to ClickHouse only as SHA-256 hashes (``sha256_hash`` /
``password_sha256_hex``); the clear text never appears in the SQL or the XML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, get_args
from xml.sax.saxutils import escape

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from tickwatch.settings import ClickHouseSettings

# what a server without SQL access management (clickhouse-local, so chdb-core) answers: no
# writable user directory at all, or the user already lives in the read-only users.xml
NO_SQL_ACCESS_STORAGE = ("ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND", "ACCESS_STORAGE_READONLY")

Role = Literal["migrate", "load", "telemetry", "monitor", "grafana"]
ROLES: tuple[Role, ...] = get_args(Role)
MARKET_TABLES = ("trades", "quotes", "bars", "trade_corrections")  # the loaded tables
CANDLE_STATE_TABLES = ("candles_1s_state", "candles_1m_state")  # materialized-view targets
# the per-symbol freshness view target (symbol_latest is a plain view over it since migration 0020)
ACTIVITY_TABLES = ("symbol_activity_daily",)
TELEMETRY_TABLES = ("otel_traces", "otel_traces_trace_id_ts", "otel_logs", "pipeline_metrics",
                    "heartbeats")  # fmt: skip
MONITOR_TABLES = ("health_checks", "alert_events", "notifications")
GRAFANA_LIMITS = {
    "readonly": "1",
    "max_execution_time": "60",
    "max_memory_usage": "2000000000",
    "max_result_rows": "1000000",
    "max_rows_to_read": "500000000",
}


@dataclass(frozen=True)
class RoleUser:
    """One role's user: its name, password hash, privileges and (Grafana) settings."""

    role: Role
    username: str
    password_sha256: str
    privileges: tuple[str, ...]  # "INSERT ON market.trades"
    limits: tuple[tuple[str, str], ...] = ()


def privileges(role: Role, settings: ClickHouseSettings) -> tuple[str, ...]:
    """What ``role`` may do, as the part of a GRANT statement before ``TO``."""
    market, ops = settings.market_database, settings.ops_database
    if role == "migrate":
        ddl = "CREATE, ALTER, DROP, SELECT, INSERT, OPTIMIZE, TRUNCATE, SHOW"
        on_cluster = ("CLUSTER ON *.*",) if settings.cluster else ()  # ON CLUSTER DDL
        return (f"{ddl} ON {market}.*", f"{ddl} ON {ops}.*", "TABLE ENGINE ON *", *on_cluster)
    # A materialized view pushes with the rights of the user inserting into its source (SQL
    # SECURITY INVOKER): the writer also needs SELECT on the source and INSERT on the view's target.
    if role == "load":
        # the market tables' views feed the candles and the per-symbol activity table; the
        # worker itself reads the market tables to tell whether a partition without a committed
        # offset already has rows (offset resets)
        # (on a cluster the worker writes one shard's `_local` tables: pipeline/load/shards.py)
        suffix = "_local" if settings.cluster else ""
        targets = (*MARKET_TABLES, *CANDLE_STATE_TABLES, *ACTIVITY_TABLES)
        sources = MARKET_TABLES
        return (
            *(f"INSERT ON {market}.{t}{suffix}" for t in targets),
            *(f"SELECT ON {market}.{t}{suffix}" for t in sources),
            *(f"SELECT ON {market}.{t}" for t in MARKET_TABLES if suffix),  # offset resets
            f"INSERT ON {ops}.dead_letters{suffix}",
            f"INSERT ON {ops}.pipeline_events",
            # tickwatch backfill runs as the load role: it mirrors its watermarks here
            f"INSERT ON {ops}.backfill_watermarks",
            f"SELECT ON {ops}.backfill_watermarks",
        )
    if role == "telemetry":
        writes = tuple(f"INSERT ON {ops}.{t}" for t in TELEMETRY_TABLES)
        return (*writes, f"SELECT ON {ops}.otel_traces")
    if role == "monitor":
        reads = (f"SELECT ON {market}.*", f"SELECT ON {ops}.*")
        return (*reads, *(f"INSERT ON {ops}.{t}" for t in MONITOR_TABLES))
    return (f"SELECT ON {market}.*", f"SELECT ON {ops}.*")


def role_users(settings: ClickHouseSettings) -> list[RoleUser]:
    """A user for every role whose ``<role>_username`` is set (the others use the shared one)."""
    users: list[RoleUser] = []
    for role in ROLES:
        username, password = settings.role_credentials(role)
        if not getattr(settings, f"{role}_username"):
            continue
        digest = hashlib.sha256(password.encode()).hexdigest()
        limits = tuple(GRAFANA_LIMITS.items()) if role == "grafana" else ()
        users.append(RoleUser(role, username, digest, privileges(role, settings), limits))
    return users


def _quoted(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def users_sql(users: list[RoleUser]) -> Iterator[str]:
    """Idempotent statements creating (or updating) each user and replacing its grants."""
    for user in users:
        name = _quoted(user.username)
        settings = ", ".join(f"{key} = {value}" for key, value in user.limits)
        tail = f" SETTINGS {settings}" if settings else ""
        identified = f"IDENTIFIED WITH sha256_hash BY '{user.password_sha256}'"
        yield f"CREATE USER IF NOT EXISTS {name} {identified}{tail}"
        yield f"ALTER USER {name} {identified}{tail}"
        yield f"REVOKE ALL ON *.* FROM {name}"
        for privilege in user.privileges:
            yield f"GRANT {privilege} TO {name}"


def users_xml(users: list[RoleUser]) -> str:
    """A ``users.xml``: the password-less ``default`` user (loopback only) plus ``users``."""
    profiles = ["<default/>"]
    entries = [
        "<default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
        "<profile>default</profile><quota>default</quota>"
        "<access_management>1</access_management></default>"
    ]
    for user in users:
        profile = "default"
        if user.limits:
            profile = f"tickwatch_{user.role}"
            values = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in user.limits)
            profiles.append(f"<{profile}>{values}</{profile}>")
        grants = "".join(f"<query>GRANT {escape(p)}</query>" for p in user.privileges)
        entries.append(
            f"<{user.username}><password_sha256_hex>{user.password_sha256}</password_sha256_hex>"
            "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
            f"<profile>{profile}</profile><quota>default</quota>"
            f"<grants>{grants}</grants></{user.username}>"
        )
    return (
        "<clickhouse>"
        f"<profiles>{''.join(profiles)}</profiles><quotas><default/></quotas>"
        f"<users>{''.join(entries)}</users>"
        "</clickhouse>\n"
    )


def apply_users(client: Client, users: list[RoleUser]) -> bool:
    """Run :func:`users_sql` on ``client`` (a user with access management).

    Returns False, having changed nothing, when the server keeps users only in ``users.xml``
    (the local chdb-core server: its users come from :func:`users_xml`). Raises
    ``DatabaseError`` for any other failure.
    """
    for statement in users_sql(users):
        try:
            client.command(statement)
        except DatabaseError as exc:
            if any(code in str(exc) for code in NO_SQL_ACCESS_STORAGE):
                return False
            raise
    return True
