"""Shard routing (unit): partition p -> shard p mod N, tokens unchanged, layout errors named."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.codec import RecordType
from pipeline.load.shards import ShardedWriter, ShardLayoutError, build_writer, shard_of
from tickwatch.access import privileges
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings

CLUSTER = ClickHouseSettings(
    cluster="tw", cluster_replicated=False, shard_urls="http://a:8123,http://b:8123"
)


class Batch:
    def __init__(self, partition: int) -> None:
        self.partition = partition


class Writer:
    def __init__(self) -> None:
        self.partitions: list[int] = []

    def write(self, batch: Batch, until: float = float("inf")) -> bool:
        self.partitions.append(batch.partition)
        return True


def test_every_batch_of_a_partition_goes_to_the_same_shard() -> None:
    writers = [Writer(), Writer()]
    sharded = ShardedWriter(writers)  # type: ignore[arg-type]
    for partition in [0, 1, 2, 3, 4, 5, 0, 3]:
        sharded.write(Batch(partition))  # type: ignore[arg-type]
    assert writers[0].partitions == [0, 2, 4, 0]
    assert writers[1].partitions == [1, 3, 5, 3]
    assert [shard_of(p, 3) for p in range(6)] == [0, 1, 2, 0, 1, 2]


def test_the_cluster_writer_inserts_into_local_tables() -> None:
    clients: list[Any] = [object(), object()]
    writer = build_writer(CLUSTER, clients[0], ManualClock(0), None, clients)  # type: ignore[arg-type]
    assert isinstance(writer, ShardedWriter)

    class Kind:
        kind = RecordType.TRADE

    tables = {w.table(Kind()) for w in writer.writers}  # type: ignore[arg-type]
    assert tables == {"market.trades_local"}
    assert all(w._dead_letters == "ops.dead_letters_local" for w in writer.writers)


def test_a_cluster_without_one_client_per_shard_is_refused() -> None:
    with pytest.raises(ShardLayoutError, match=r"clickhouse\.shard_urls"):
        one: list[Any] = [object()]
        build_writer(CLUSTER, one[0], ManualClock(0), None, one)  # type: ignore[arg-type]


def test_settings_refuse_shard_urls_without_a_cluster_and_per_node_ddl_without_urls() -> None:
    from tickwatch.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match=r"clickhouse\.cluster is empty"):
        load_settings(clickhouse={"shard_urls": "http://a:8123"})
    with pytest.raises(ConfigError, match="cluster_replicated"):
        load_settings(clickhouse={"cluster": "tw", "cluster_replicated": False})


def test_the_load_role_may_write_the_local_tables_and_migrate_may_run_on_cluster() -> None:
    load = privileges("load", CLUSTER)
    assert "INSERT ON market.trades_local" in load
    assert "INSERT ON market.candles_1s_state_local" in load
    assert "SELECT ON market.trades_local" in load
    assert "INSERT ON ops.dead_letters_local" in load
    assert "CLUSTER ON *.*" in privileges("migrate", CLUSTER)
    assert "CLUSTER ON *.*" not in privileges("migrate", ClickHouseSettings())
