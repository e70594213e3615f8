"""Numbered SQL migrations in ``clickhouse/``, applied in order and recorded.

A migration file is ``NNNN_name.sql``: statements separated by ``;`` at line ends, with the
placeholders ``{market}``, ``{ops}``, ``{ticks_ttl_days}`` and ``{ops_ttl_days}`` replaced by
values from :class:`ClickHouseSettings` (database names are validated identifiers there, so the
substitution cannot inject SQL). Applied versions are recorded in ``{ops}.schema_migrations``;
running :func:`apply` twice applies nothing the second time. Every statement is also written
with ``IF NOT EXISTS`` so a migration interrupted half-way can simply be re-run.

With ``clickhouse.cluster`` set, every statement is rewritten by :mod:`tickwatch.cluster_ddl`
(local replicated tables + ``Distributed``, ``ON CLUSTER``) and the record is a table every node
reads the same; with ``cluster_replicated = false`` the caller applies the migrations to each node.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from tickwatch.cluster_ddl import ClusterDDLError, ClusterLayout, ClusterSchema, ledger_statements
from tickwatch.settings import ClickHouseSettings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "clickhouse"
_FILE_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_COMMENT_RE = re.compile(r"^\s*--.*$", re.MULTILINE)


class MigrationError(Exception):
    """A migration file is malformed or a statement failed; names the file and statement."""


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.stem

    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]

    def statements(self, settings: ClickHouseSettings) -> list[str]:
        """The file's statements with placeholders substituted, comments stripped."""
        text = _COMMENT_RE.sub("", self.path.read_text(encoding="utf-8"))
        for key, value in _placeholders(settings).items():
            text = text.replace("{" + key + "}", value)
        return [s.strip() for s in re.split(r";\s*(?:\n|$)", text) if s.strip()]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migrations in ``directory``, sorted by version; duplicate versions are an error."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path}: name must look like 0001_some_name.sql")
        version = match.group(1)
        if version in found:
            raise MigrationError(f"{path}: version {version} also used by {found[version].path}")
        found[version] = Migration(version, path)
    return [found[v] for v in sorted(found)]


def apply(
    client: Client, settings: ClickHouseSettings, directory: Path = MIGRATIONS_DIR
) -> list[str]:
    """Apply every migration not yet recorded; return the versions applied now, in order.

    Raises :class:`MigrationError` naming the file and the failing statement.
    """
    _ensure_ledger(client, settings)
    done = _applied_versions(client, settings)
    applied: list[str] = []
    for migration, statements in planned(settings, directory):
        if migration.version in done:
            continue
        _run(client, settings, migration, statements)
        applied.append(migration.version)
    return applied


def planned(
    settings: ClickHouseSettings, directory: Path = MIGRATIONS_DIR
) -> list[tuple[Migration, list[str]]]:
    """Every migration with the statements it runs here (rewritten for a cluster if there is one).

    Raises :class:`MigrationError` naming the file whose statement cannot be rewritten.
    """
    layout = ClusterLayout.from_settings(settings)
    schema = ClusterSchema(layout) if layout else None
    plan: list[tuple[Migration, list[str]]] = []
    for migration in discover(directory):
        statements = migration.statements(settings)
        if schema is not None:
            try:
                statements = [out for s in statements for out in schema.rewrite(s)]
            except ClusterDDLError as exc:
                raise MigrationError(f"{migration.path.name}: {exc}") from exc
        plan.append((migration, statements))
    return plan


def status(
    client: Client, settings: ClickHouseSettings, directory: Path = MIGRATIONS_DIR
) -> list[tuple[str, str, bool]]:
    """(version, name, applied) for every migration file."""
    _ensure_ledger(client, settings)
    done = _applied_versions(client, settings)
    return [(m.version, m.name, m.version in done) for m in discover(directory)]


def _placeholders(settings: ClickHouseSettings) -> dict[str, str]:
    return {
        "market": settings.market_database,
        "ops": settings.ops_database,
        "ticks_ttl_days": str(settings.ticks_ttl_days),
        "ops_ttl_days": str(settings.ops_ttl_days),
    }


def _ensure_ledger(client: Client, settings: ClickHouseSettings) -> None:
    ops = settings.ops_database
    layout = ClusterLayout.from_settings(settings)
    if layout is not None:
        for statement in ledger_statements(layout, ops):
            client.command(statement)
        return
    client.command(f"CREATE DATABASE IF NOT EXISTS {ops}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {ops}.schema_migrations "
        "(version String, name String, checksum String, applied_at DateTime64(3, 'UTC')) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )


def _applied_versions(client: Client, settings: ClickHouseSettings) -> set[str]:
    rows = client.query(
        f"SELECT DISTINCT version FROM {settings.ops_database}.schema_migrations"
    ).result_rows
    return {str(row[0]) for row in rows}


def _run(
    client: Client, settings: ClickHouseSettings, migration: Migration, statements: list[str]
) -> None:
    for statement in statements:
        try:
            client.command(statement)
        except Exception as exc:
            first_line = statement.splitlines()[0]
            raise MigrationError(f"{migration.path.name}: {first_line!r} failed: {exc}") from exc
    client.insert(
        f"{settings.ops_database}.schema_migrations",
        [[migration.version, migration.name, migration.checksum(), datetime.now(UTC)]],
        column_names=["version", "name", "checksum", "applied_at"],
    )
