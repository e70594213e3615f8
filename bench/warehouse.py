"""ClickHouse for the benchmarks: fresh migrated databases per run, row counts, clean-up."""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from tickwatch import dedup_window, migrations
from tickwatch.clients import clickhouse_client
from tickwatch.settings import ClickHouseSettings, KafkaSettings, Settings


@dataclass(frozen=True)
class BenchDatabases:
    """A market and an ops database holding tickwatch's schema, used by one run only."""

    market: str
    ops: str

    @property
    def settings(self) -> ClickHouseSettings:
        return ClickHouseSettings(market_database=self.market, ops_database=self.ops)

    def env(self) -> dict[str, str]:
        """The variables that point a worker at these databases."""
        return {
            "TICKWATCH_CLICKHOUSE_MARKET_DATABASE": self.market,
            "TICKWATCH_CLICKHOUSE_OPS_DATABASE": self.ops,
        }


class Warehouse:
    """A clickhouse-connect client on the bench's server, used from one thread."""

    def __init__(self, url: str, partitions: int = KafkaSettings().partitions) -> None:
        self.url = url
        self.client: Client = clickhouse_client(ClickHouseSettings(), url)
        self._partitions = partitions

    def fresh(self, name: str) -> BenchDatabases:
        """Drop and re-create ``<name>_market`` / ``<name>_ops`` with every migration applied
        and the insert-token window sized as ``tickwatch migrate`` sizes it for the workers'
        settings (the defaults, with the bench's partitions), which the load worker checks."""
        databases = BenchDatabases(f"{name}_market", f"{name}_ops")
        self.drop(databases)
        migrations.apply(self.client, databases.settings)
        workers = Settings.model_construct(
            clickhouse=databases.settings, kafka=KafkaSettings(partitions=self._partitions)
        )
        dedup_window.ensure(self.client, workers)
        return databases

    def drop(self, databases: BenchDatabases) -> None:
        """Drop both databases (stops their background merges competing with the next run)."""
        for database in (databases.market, databases.ops):
            self.client.command(f"DROP DATABASE IF EXISTS {database} SYNC")

    def count(self, table: str) -> int:
        """``count()`` of ``table`` (answered from part metadata, cheap to poll)."""
        return int(self.client.query(f"SELECT count() FROM {table}").result_rows[0][0])

    def version(self) -> str:
        """The server's ``version()``."""
        return str(self.client.command("SELECT version()"))

    def close(self) -> None:
        """Close the client's connection pool."""
        self.client.close()
