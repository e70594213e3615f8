"""The single-node migrations, rewritten for a ClickHouse cluster (``clickhouse.cluster``).

The files in ``clickhouse/`` describe one node. On a cluster every table becomes two:

* ``<db>.<name>_local`` on every node holds that shard's rows: ``Replicated<Engine>MergeTree``
  with the ZooKeeper path ``/clickhouse/tables/{shard}/<db>/<name>_local`` and replica
  ``{replica}`` (both macros from each server's ``<macros>``), so the replicas of one shard share
  one table and one deduplication log; with ``clickhouse.cluster_replicated = false`` a plain
  ``<Engine>MergeTree`` (one node per shard, no Keeper);
* ``<db>.<name>`` is a ``Distributed`` table over the local ones, under the name the single node
  uses, so every reader (dashboards, detector, CLI) reads the whole cluster without a change.
  Its sharding key is ``kafka_partition`` where the table has that column (the same shard the
  load worker's routing picks, :mod:`pipeline.load.shards`), else ``rand()``.

Materialized views are per node, from local table to local table (a view fires on the insert
into the shard's local table); plain views read the ``Distributed`` tables. ``ALTER TABLE`` is
applied to both tables. Replicated DDL carries ``ON CLUSTER '<cluster>'`` (the distributed DDL
queue in Keeper runs it on every node); non-replicated DDL is applied node by node by the caller.

Only the statement forms the migrations use are understood; anything else raises
:class:`ClusterDDLError`, so a new migration cannot silently stay single-node on a cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tickwatch.settings import ClickHouseSettings

LOCAL_SUFFIX = "_local"
SHARD_MACRO = "{shard}"
REPLICA_MACRO = "{replica}"

_NAME = r"(\w+)\.(\w+)"
# the engine name, its own parameters if any (ReplacingMergeTree(version)), the rest
_ENGINE = r"ENGINE\s*=\s*(\w*MergeTree(?:\([^()]*\))?)(?!\s*\()(.*)"
_DATABASE_RE = re.compile(r"^CREATE DATABASE IF NOT EXISTS (\w+)$")
_TABLE_RE = re.compile(rf"^CREATE TABLE IF NOT EXISTS {_NAME}\s*\((.*)\)\s*{_ENGINE}$", re.S)
_TABLE_AS_RE = re.compile(rf"^CREATE TABLE IF NOT EXISTS {_NAME}\s+AS\s+{_NAME}\s+{_ENGINE}$", re.S)
_MATVIEW_RE = re.compile(
    rf"^CREATE MATERIALIZED VIEW IF NOT EXISTS {_NAME}\s+TO\s+{_NAME}\s+AS\s+(SELECT\b.*)$", re.S
)
_VIEW_RE = re.compile(
    rf"^CREATE (VIEW IF NOT EXISTS|OR REPLACE VIEW) {_NAME}\s+AS\s+((?:WITH|SELECT)\b.*)$", re.S
)
# a view's IN / NOT IN (SELECT ...) over Distributed tables: GLOBAL, so the subquery runs once
# and is shipped to the shards (ClickHouse refuses double-distributed subqueries by default)
_SUBQUERY_IN_RE = re.compile(r"(?<!GLOBAL )\b((?:NOT\s+)?IN)(\s*)\((\s*SELECT\b)")
_DROP_VIEW_RE = re.compile(rf"^DROP VIEW IF EXISTS {_NAME}$")
_DROP_TABLE_RE = re.compile(rf"^DROP TABLE IF EXISTS {_NAME}$")
_INSERT_SELECT_RE = re.compile(rf"^INSERT INTO {_NAME}\s*(\([^)]*\))?\s*(SELECT\b.*)$", re.S)
# ALTER actions a Distributed table does not take (it holds no data, so no TTL and no data
# skipping index either): applied to the local only
_LOCAL_ONLY_ALTER = re.compile(
    r"^\s*(MODIFY TTL|REMOVE TTL|MATERIALIZE|DELETE|UPDATE|ADD INDEX|DROP INDEX|CLEAR INDEX)\b",
    re.I,
)
_ALTER_RE = re.compile(rf"^ALTER TABLE {_NAME}\s+(.*)$", re.S)
_QUALIFIED_RE = re.compile(r"\b(\w+)\.(\w+)\b")


class ClusterDDLError(Exception):
    """A statement has a form this module cannot rewrite for a cluster; names the statement."""


@dataclass(frozen=True)
class ClusterLayout:
    """How the schema is laid out on the cluster ``name``."""

    name: str
    replicated: bool

    @classmethod
    def from_settings(cls, settings: ClickHouseSettings) -> ClusterLayout | None:
        """The layout for ``clickhouse.cluster``; None on a single node."""
        if not settings.cluster:
            return None
        return cls(settings.cluster, settings.cluster_replicated)

    @property
    def on_cluster(self) -> str:
        """The ``ON CLUSTER`` clause (empty when the DDL is applied node by node)."""
        return f" ON CLUSTER '{self.name}'" if self.replicated else ""

    def engine(self, engine: str, database: str, table: str) -> str:
        """The local table's engine: replicated with both macros, or the engine as it is."""
        if not self.replicated:
            return engine
        path = f"/clickhouse/tables/{SHARD_MACRO}/{database}/{table}"
        name, _, params = engine.partition("(")
        own = f", {params.rstrip(')')}" if params.rstrip(")").strip() else ""
        return f"Replicated{name}('{path}', '{REPLICA_MACRO}'{own})"

    def settings_clause(self, rest: str) -> str:
        """Replicated tables keep their insert tokens under ``replicated_deduplication_window``."""
        if not self.replicated:
            return rest
        return rest.replace("non_replicated_dedup", "replicated_dedup")


@dataclass
class ClusterSchema:
    """Rewrites migration statements in order, remembering which tables became local+Distributed.

    Feed it every migration's statements, applied ones included, so a later view or ALTER knows
    the tables an earlier migration created.
    """

    layout: ClusterLayout
    sharding: dict[str, str] = field(default_factory=dict)  # "db.name" -> Distributed key

    def local_tables(self) -> list[str]:
        """Qualified names of the local tables created so far."""
        return [name + LOCAL_SUFFIX for name in self.sharding]

    def rewrite(self, statement: str) -> list[str]:
        """The cluster statements for one single-node statement, in execution order.

        Raises :class:`ClusterDDLError` for a statement form it does not know.
        """
        handlers = (
            (_DATABASE_RE, self._database),
            (_TABLE_RE, self._table),
            (_TABLE_AS_RE, self._table_as),
            (_MATVIEW_RE, self._matview),
            (_VIEW_RE, self._view),
            (_DROP_VIEW_RE, self._drop_view),
            (_DROP_TABLE_RE, self._drop_table),
            (_INSERT_SELECT_RE, self._insert_select),
            (_ALTER_RE, self._alter),
        )
        for pattern, handler in handlers:
            match = pattern.match(statement)
            if match:
                return handler(match)
        first = statement.splitlines()[0] if statement else statement
        raise ClusterDDLError(f"cannot rewrite {first!r} for cluster {self.layout.name!r}")

    def _database(self, m: re.Match[str]) -> list[str]:
        return [f"CREATE DATABASE IF NOT EXISTS {m[1]}{self.layout.on_cluster}"]

    def _table(self, m: re.Match[str]) -> list[str]:
        db, name, columns, engine, rest = m.groups()
        key = "kafka_partition" if re.search(r"\bkafka_partition\b", columns) else "rand()"
        local = name + LOCAL_SUFFIX
        create = (
            f"CREATE TABLE IF NOT EXISTS {db}.{local}{self.layout.on_cluster}\n({columns})\n"
            f"ENGINE = {self.layout.engine(engine, db, local)}{self.layout.settings_clause(rest)}"
        )
        self.sharding[f"{db}.{name}"] = key
        return [create, self._distributed(db, name, key)]

    def _table_as(self, m: re.Match[str]) -> list[str]:
        db, name, src_db, src, engine, rest = m.groups()
        key = self._known(f"{src_db}.{src}")
        local = name + LOCAL_SUFFIX
        create = (
            f"CREATE TABLE IF NOT EXISTS {db}.{local}{self.layout.on_cluster} "
            f"AS {src_db}.{src}{LOCAL_SUFFIX}\n"
            f"ENGINE = {self.layout.engine(engine, db, local)}{self.layout.settings_clause(rest)}"
        )
        self.sharding[f"{db}.{name}"] = key
        return [create, self._distributed(db, name, key)]

    def _matview(self, m: re.Match[str]) -> list[str]:
        db, name, to_db, to, select = m.groups()
        self._known(f"{to_db}.{to}")
        return [
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{name}{self.layout.on_cluster} "
            f"TO {to_db}.{to}{LOCAL_SUFFIX} AS\n{self._to_local(select)}"
        ]

    def _view(self, m: re.Match[str]) -> list[str]:
        kind, db, name, select = m.groups()
        select = _SUBQUERY_IN_RE.sub(r"GLOBAL \1\2(\3", select)
        return [f"CREATE {kind} {db}.{name}{self.layout.on_cluster} AS\n{select}"]

    def _drop_view(self, m: re.Match[str]) -> list[str]:
        db, name = m.groups()
        return [f"DROP VIEW IF EXISTS {db}.{name}{self.layout.on_cluster}"]

    def _drop_table(self, m: re.Match[str]) -> list[str]:
        """A table an earlier statement created: its ``Distributed`` table, then the local one
        (the name is free again for a later statement, e.g. a view under the same name)."""
        db, name = m.groups()
        self._known(f"{db}.{name}")
        del self.sharding[f"{db}.{name}"]
        on = self.layout.on_cluster
        return [
            f"DROP TABLE IF EXISTS {db}.{name}{on}",
            f"DROP TABLE IF EXISTS {db}.{name}{LOCAL_SUFFIX}{on}",
        ]

    def _insert_select(self, m: re.Match[str]) -> list[str]:
        """A migration's one-off backfill (``INSERT INTO t SELECT ... FROM src``). Replicated:
        the statements run once, on one node, so it reads and writes the ``Distributed`` tables
        (every shard, rows routed by the sharding key). Not replicated: the caller applies the
        migrations to each node, so each node copies its own shard, local to local."""
        db, name, columns, select = m.groups()
        self._known(f"{db}.{name}")
        cols = f" {columns}" if columns else ""
        if self.layout.replicated:
            return [f"INSERT INTO {db}.{name}{cols}\n{select}"]
        return [f"INSERT INTO {db}.{name}{LOCAL_SUFFIX}{cols}\n{self._to_local(select)}"]

    def _alter(self, m: re.Match[str]) -> list[str]:
        db, name, action = m.groups()
        on = self.layout.on_cluster
        if f"{db}.{name}" not in self.sharding:
            return [f"ALTER TABLE {db}.{name}{on}\n{action}"]
        if _LOCAL_ONLY_ALTER.match(action):
            return [f"ALTER TABLE {db}.{name}{LOCAL_SUFFIX}{on}\n{action}"]
        return [
            f"ALTER TABLE {db}.{name}{LOCAL_SUFFIX}{on}\n{action}",
            f"ALTER TABLE {db}.{name}{on}\n{action}",
        ]

    def _distributed(self, db: str, name: str, key: str) -> str:
        return (
            f"CREATE TABLE IF NOT EXISTS {db}.{name}{self.layout.on_cluster} "
            f"AS {db}.{name}{LOCAL_SUFFIX}\n"
            f"ENGINE = Distributed('{self.layout.name}', {db}, {name}{LOCAL_SUFFIX}, {key})"
        )

    def _known(self, qualified: str) -> str:
        if qualified not in self.sharding:
            raise ClusterDDLError(f"{qualified} is not a table created by an earlier statement")
        return self.sharding[qualified]

    def _to_local(self, select: str) -> str:
        """``select`` reading the local tables instead of the Distributed ones."""

        def local(match: re.Match[str]) -> str:
            qualified = f"{match[1]}.{match[2]}"
            return qualified + LOCAL_SUFFIX if qualified in self.sharding else qualified

        return _QUALIFIED_RE.sub(local, select)


def ledger_statements(layout: ClusterLayout, ops: str) -> list[str]:
    """The migrations record on a cluster: one table every node reads the same.

    Replicated: one ``ReplicatedReplacingMergeTree`` shared by *all* nodes (its path has no
    ``{shard}``, its replica name both macros), so a version recorded on one node is seen on every
    node. Node by node: each node keeps its own record of what was applied to it.
    """
    columns = "(version String, name String, checksum String, applied_at DateTime64(3, 'UTC'))"
    engine = "ReplacingMergeTree"
    if layout.replicated:
        path = f"/clickhouse/tables/{layout.name}/{ops}/schema_migrations"
        engine = f"ReplicatedReplacingMergeTree('{path}', '{SHARD_MACRO}-{REPLICA_MACRO}')"
    return [
        f"CREATE DATABASE IF NOT EXISTS {ops}{layout.on_cluster}",
        f"CREATE TABLE IF NOT EXISTS {ops}.schema_migrations{layout.on_cluster} {columns} "
        f"ENGINE = {engine} ORDER BY version",
    ]
