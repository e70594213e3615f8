"""Where the load worker inserts on a ClickHouse cluster: Kafka partition ``p`` → shard ``p mod N``.

``clickhouse.shard_urls`` lists one HTTP endpoint per shard, in the cluster's shard order (a
replica of that shard, or a load balancer over its replicas). A batch of partition ``p`` is
inserted into the *local* tables (``<table>_local``) of shard ``p mod N`` directly; the
``Distributed`` tables are only read through.

Why exactly once still holds (the single-node argument is in :mod:`pipeline.load.worker`; only
"ClickHouse drops a block whose token it has seen" needs re-arguing):

* A token ``topic:partition:first-last`` names one partition, and every batch of that partition
  goes to the same shard, so the first insert of a batch and any replay of it reach the same
  local table. Its deduplication log is per shard: on replicated shards it lives in Keeper under
  ``/clickhouse/tables/{shard}/<db>/<table>_local`` and is shared by the shard's replicas, so a
  replay that lands on another replica of that shard (a load balancer, a failover) is still
  dropped. On non-replicated shards each shard is one node with its own log.
* The candle views fire on the node that took the insert, from the local ticks table into the
  local state tables, so ``deduplicate_blocks_in_dependent_materialized_views`` works per shard
  exactly as on one node. Reads through ``Distributed`` see each row once (it exists on one
  shard); candle states from several shards merge in the view's ``GROUP BY``.
* Not through the ``Distributed`` table: by default it acknowledges an insert once the block is
  queued on the receiving node's disk, before it is in the shard's table — the worker would commit
  offsets of rows that are not in ClickHouse yet; and which shard a block reaches would depend on
  the sharding expression and weights instead of on this one rule.
* The mapping is checked at start-up (:func:`verify_layout`): the node at ``shard_urls[i]`` must
  be shard ``i + 1`` of ``clickhouse.cluster`` and the cluster must have ``N`` shards. Changing
  ``N`` or the order moves partitions to other shards: do it only after every load worker stopped
  gracefully with ClickHouse healthy (a drain leaves no recorded, unfinished batch to replay).
* The window: each shard's tables receive the batches of ``ceil(partitions / N)`` partitions;
  :mod:`tickwatch.dedup_window` sizes and checks the window per shard.
"""

from __future__ import annotations

from typing import Protocol

from clickhouse_connect.driver.client import Client

from pipeline.errors import FatalError
from pipeline.load.batch import Batch
from pipeline.load.insert import SERVER_BLOCK_ROWS, ClickHouseWriter
from tickwatch.clients import clickhouse_client
from tickwatch.clock import Clock
from tickwatch.cluster_ddl import LOCAL_SUFFIX
from tickwatch.settings import ClickHouseSettings
from tickwatch.telemetry.catalog import LoadMetrics


class BatchWriter(Protocol):
    """What the worker needs from its insert step (:class:`ClickHouseWriter` and this module's)."""

    def write(self, batch: Batch, until: float = float("inf")) -> bool:
        """Insert ``batch``; False when a bisection was still going on at ``until`` (monotonic
        time, call again), True when all of it is in ClickHouse (see ClickHouseWriter.write)."""
        ...


class ShardLayoutError(FatalError):
    """``clickhouse.shard_urls`` does not match the cluster's shards; names the URL."""


def shard_of(partition: int, shards: int) -> int:
    """The 0-based shard that takes every batch of Kafka partition ``partition``."""
    return partition % shards


class ShardedWriter:
    """Routes each batch to its shard's writer; the batch's tokens are unchanged."""

    def __init__(self, writers: list[ClickHouseWriter]) -> None:
        if not writers:
            raise ShardLayoutError("a sharded writer needs at least one shard")
        self.writers = writers

    def write(self, batch: Batch, until: float = float("inf")) -> bool:
        """Insert into shard ``partition mod N``; returns and raises as
        :meth:`ClickHouseWriter.write`."""
        return self.writers[shard_of(batch.partition, len(self.writers))].write(batch, until)


def shard_clients(settings: ClickHouseSettings) -> list[Client]:
    """One client (as the ``load`` role) per ``clickhouse.shard_urls`` entry."""
    return [clickhouse_client(settings.as_role("load"), url) for url in settings.shard_url_list]


def build_writer(
    settings: ClickHouseSettings,
    client: Client,
    clock: Clock,
    metrics: LoadMetrics,
    shard_clients: list[Client] | None = None,
    *,
    max_batch_rows: int = SERVER_BLOCK_ROWS,
) -> BatchWriter:
    """The single-node writer, or on ``clickhouse.cluster`` one per shard (local tables)."""
    if not settings.cluster:
        return ClickHouseWriter(client, settings, clock, metrics, max_batch_rows)
    clients = shard_clients or []
    if len(clients) != len(settings.shard_url_list) or not clients:
        raise ShardLayoutError(
            f"clickhouse.cluster={settings.cluster!r} needs one client per clickhouse.shard_urls "
            f"entry ({len(settings.shard_url_list)} given)"
        )
    return ShardedWriter(
        [
            ClickHouseWriter(c, settings, clock, metrics, max_batch_rows, table_suffix=LOCAL_SUFFIX)
            for c in clients
        ]
    )


def verify_layout(settings: ClickHouseSettings, clients: list[Client]) -> None:
    """Start-up check that ``shard_urls[i]`` is shard ``i + 1`` of a cluster of ``N`` shards.

    Raises :class:`ShardLayoutError` naming the URL and what the server reported.
    """
    urls = settings.shard_url_list
    for index, (url, client) in enumerate(zip(urls, clients, strict=True)):
        rows = client.query(
            "SELECT max(shard_num), groupArrayIf(shard_num, is_local) FROM system.clusters "
            "WHERE cluster = {c:String}",
            parameters={"c": settings.cluster},
        ).result_rows
        count, local = (int(rows[0][0]), list(rows[0][1])) if rows else (0, [])
        if count != len(urls):
            raise ShardLayoutError(
                f"clickhouse.shard_urls has {len(urls)} entries but cluster "
                f"{settings.cluster!r} has {count} shards on {url}"
            )
        if index + 1 not in local:
            raise ShardLayoutError(
                f"clickhouse.shard_urls[{index}] = {url} should be shard {index + 1} of "
                f"{settings.cluster!r}, but that server is shard(s) {local or 'none'}"
            )
