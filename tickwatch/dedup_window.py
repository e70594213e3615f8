"""How many insert tokens a table must remember so every replay of a batch is deduplicated.

A replayed batch is a no-op only while its token is among the table's last
``non_replicated_deduplication_window`` (single node, non-replicated shards) or
``replicated_deduplication_window`` (replicated shards) blocks. Between a batch's first insert and
its replay by the partition's next owner, the other partitions writing into the same table keep
inserting. Bound on the blocks a table receives per second (one shard's table on a cluster):

* a batch is cut either by time or by size. Time cuts of one partition are at least
  ``load.batch_max_ms`` apart (``load.batch_min_ms`` with the early cut on, and in table scope
  ``load.batch_cadence_ms`` from the topic's previous cut, if shorter), so at
  most ``P x 1000 / that interval`` per second for the ``P``
  partitions of the shard (``ceil(kafka.partitions / shards)``; partition ``p`` goes to shard
  ``p mod shards``); every size-cut batch holds ``load.batch_max_rows`` rows, so at most
  ``load.peak_rows_per_s / batch_max_rows`` per second;
* with ``load.batch_scope = "table"`` the partitions of a table share one insert per cut (a
  group), so the bound above still holds — loosely: it counts one insert per partition;
* one insert writes one block per day partition it touches (``PARTITION BY toDate``): x2 for a
  batch that spans midnight UTC.

A replay comes within the *horizon* ``2 x load.session_timeout_ms``: the group notices a dead
member within one session timeout, and the rebalance plus the new owner's first insert take well
under another. Required window = ``ceil(rate x horizon)``. ``clickhouse.dedup_window = 0`` sizes
it automatically (at least the former fixed 10,000); a value below the requirement is refused.
``tickwatch migrate`` sets it on every table (:func:`ensure`); the load worker checks the tables
at start-up (:func:`verify`) and refuses to start when a table's window is too small.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from tickwatch import access
from tickwatch.cluster_ddl import LOCAL_SUFFIX, ClusterLayout
from tickwatch.settings import Settings

FLOOR = 10_000
PARTS_PER_INSERT = 2
# Every market table a load INSERT writes a block into: the loaded tables and their views'
# targets (a replayed batch is a no-op in a view's target only within the target's own window).
MARKET_TABLES = (*access.MARKET_TABLES, *access.CANDLE_STATE_TABLES, *access.ACTIVITY_TABLES)
OPS_TABLES = ("dead_letters",)


class DedupWindowError(Exception):
    """The deduplication window cannot cover a replay; the message names the settings."""


@dataclass(frozen=True)
class WindowNeed:
    """The inputs of the rule and the window they require."""

    partitions_per_table: int
    batch_max_ms: int
    peak_rows_per_s: float
    batch_max_rows: int
    horizon_s: float
    batch_min_ms: int = 0  # the early cut (0 = off): time cuts may come this often
    batch_cadence_ms: int = 0  # the cadence (0 = off or not applicable): or this often

    @property
    def time_cut_ms(self) -> int:
        """The shortest time between two time cuts of one partition."""
        early = [ms for ms in (self.batch_min_ms, self.batch_cadence_ms) if ms]
        return min([self.batch_max_ms, *early])

    @property
    def blocks_per_s(self) -> float:
        time_cuts = self.partitions_per_table * 1000.0 / self.time_cut_ms
        return (time_cuts + self.peak_rows_per_s / self.batch_max_rows) * PARTS_PER_INSERT

    @property
    def blocks(self) -> int:
        return math.ceil(self.blocks_per_s * self.horizon_s)

    def explain(self) -> str:
        return (
            f"{self.partitions_per_table} partitions per table (kafka.partitions over the shards)"
            f" x 1000 / min(load.batch_max_ms={self.batch_max_ms}, load.batch_min_ms="
            f"{self.batch_min_ms}, load.batch_cadence_ms={self.batch_cadence_ms})"
            f" + load.peak_rows_per_s="
            f"{self.peak_rows_per_s:g} / load.batch_max_rows={self.batch_max_rows}, x "
            f"{PARTS_PER_INSERT} parts per insert, over 2 x load.session_timeout_ms = "
            f"{self.horizon_s:g} s = {self.blocks} blocks"
        )


def need(settings: Settings, shards: int = 1) -> WindowNeed:
    """What a replay within the session-timeout horizon requires, for ``shards`` shards."""
    return WindowNeed(
        partitions_per_table=math.ceil(settings.kafka.partitions / max(1, shards)),
        batch_max_ms=settings.load.batch_max_ms,
        peak_rows_per_s=settings.load.peak_rows_per_s,
        batch_max_rows=settings.load.batch_max_rows,
        horizon_s=2 * settings.load.session_timeout_ms / 1000.0,
        batch_min_ms=settings.load.batch_min_ms,
        batch_cadence_ms=cadence_ms(settings),
    )


def cadence_ms(settings: Settings) -> int:
    """``load.batch_cadence_ms`` where it applies (table scope with the early cut on), else 0."""
    load = settings.load
    on = load.batch_scope == "table" and load.batch_min_ms > 0
    return load.batch_cadence_ms if on else 0


def target(settings: Settings, shards: int = 1) -> int:
    """The window to configure: ``clickhouse.dedup_window``, or sized when it is 0.

    Raises :class:`DedupWindowError` when the configured value is below the requirement.
    """
    required = need(settings, shards)
    configured = settings.clickhouse.dedup_window
    if configured == 0:
        return max(FLOOR, required.blocks)
    if configured < required.blocks:
        raise DedupWindowError(
            f"clickhouse.dedup_window={configured} is below what a replay needs: "
            f"{required.explain()}; raise clickhouse.dedup_window (or set it to 0 to size it), "
            "or lower kafka.partitions per shard / raise load.batch_max_ms"
        )
    return configured


def setting_name(layout: ClusterLayout | None) -> str:
    """Which MergeTree setting holds the window for this layout."""
    if layout is not None and layout.replicated:
        return "replicated_deduplication_window"
    return "non_replicated_deduplication_window"


def tables(settings: Settings) -> list[str]:
    """The deduplicated tables that hold rows (the local ones on a cluster)."""
    ch = settings.clickhouse
    suffix = LOCAL_SUFFIX if ch.cluster else ""
    names = [f"{ch.market_database}.{t}" for t in MARKET_TABLES]
    names += [f"{ch.ops_database}.{t}" for t in OPS_TABLES]
    return [name + suffix for name in names]


def current(client: Client, table: str, setting: str) -> int:
    """The window ``table`` has on the server ``client`` talks to (its own or the default)."""
    database, name = table.split(".", 1)
    rows = client.query(
        "SELECT create_table_query FROM system.tables WHERE database = {d:String} "
        "AND name = {n:String}",
        parameters={"d": database, "n": name},
    ).result_rows
    if not rows:
        raise DedupWindowError(f"table {table} does not exist: run `tickwatch migrate` first")
    found = re.search(rf"\b{setting}\s*=\s*(\d+)", str(rows[0][0]))
    if found:
        return int(found.group(1))
    default = client.query(
        "SELECT value FROM system.merge_tree_settings WHERE name = {n:String}",
        parameters={"n": setting},
    ).result_rows
    return int(default[0][0]) if default else 0


def ensure(client: Client, settings: Settings, shards: int = 1) -> list[str]:
    """Raise every table's window to :func:`target`; return the tables changed.

    On a replicated cluster the ``ALTER`` runs ``ON CLUSTER``; node by node otherwise (call it
    for each node). Raises :class:`DedupWindowError` as :func:`target` does.
    """
    layout = ClusterLayout.from_settings(settings.clickhouse)
    name, window = setting_name(layout), target(settings, shards)
    on = layout.on_cluster if layout else ""
    changed = []
    for table in tables(settings):
        if current(client, table, name) < window:
            client.command(f"ALTER TABLE {table}{on} MODIFY SETTING {name} = {window}")
            changed.append(table)
    return changed


def verify(client: Client, settings: Settings, shards: int = 1) -> None:
    """Start-up check: every table's window covers a replay. Raises :class:`DedupWindowError`."""
    layout = ClusterLayout.from_settings(settings.clickhouse)
    name, required = setting_name(layout), need(settings, shards)
    for table in tables(settings):
        window = current(client, table, name)
        if window < required.blocks:
            raise DedupWindowError(
                f"{table} keeps the last {window} insert tokens ({name}) but a replay within "
                f"the session-timeout horizon can come after {required.explain()}: run "
                "`tickwatch migrate` (it sets the window from clickhouse.dedup_window), or lower "
                "kafka.partitions per shard / load.peak_rows_per_s, or raise load.batch_max_ms"
            )
