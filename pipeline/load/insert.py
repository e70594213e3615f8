"""The insert step: one sealed batch -> ClickHouse, idempotently.

Every insert carries ``insert_deduplication_token`` = the batch's ``topic:partition:first-last``
(dead letters: the same with a ``dlq:`` prefix), with synchronous inserts and deduplication forced
on, including the dependent materialized views (the candles): replaying a batch whose range was
already inserted is a no-op in the table *and* in the views' state tables, while a replay after a
half-done insert (table written, a view not) completes the missing part. The tables keep the
last ``non_replicated_deduplication_window`` tokens.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from pipeline.dlq import DEAD_LETTER_COLUMNS, dead_letter_columns
from pipeline.errors import ClickHouseUnavailable
from pipeline.load.batch import Batch
from pipeline.load.tables import TABLES, column_names
from tickwatch.clock import Clock
from tickwatch.settings import ClickHouseSettings
from tickwatch.telemetry.catalog import LoadMetrics

INSERT_SETTINGS: dict[str, Any] = {
    "async_insert": 0,  # server-side buffering would acknowledge before the rows are in a part
    "insert_deduplicate": 1,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}


class ClickHouseWriter:
    """Inserts batches into ``{market}.<type>`` and ``{ops}.dead_letters``."""

    def __init__(
        self,
        client: Client,
        settings: ClickHouseSettings,
        clock: Clock,
        metrics: LoadMetrics,
        table_suffix: str = "",  # "_local": one shard's tables (pipeline/load/shards.py)
    ) -> None:
        self._client = client
        self._market = settings.market_database
        self._suffix = table_suffix
        self._dead_letters = f"{settings.ops_database}.dead_letters{table_suffix}"
        self._clock = clock
        self._metrics = metrics

    def table(self, batch: Batch) -> str:
        return f"{self._market}.{TABLES[batch.kind]}{self._suffix}"

    def write(self, batch: Batch) -> None:
        """Insert the batch's rows, then its dead letters. Blocks for the HTTP round trips.

        Raises :class:`ClickHouseUnavailable` if either insert fails; the batch is unchanged and
        writing it again later is safe (same tokens).
        """
        now_us = int(self._clock.time() * 1e6)
        if len(batch.rows):
            self._insert_rows(batch, now_us)
        if batch.dead_letters:
            data = dead_letter_columns(batch.dead_letters, now_us)
            self._insert(self._dead_letters, data, DEAD_LETTER_COLUMNS, "dlq:" + batch.token())

    def _insert_rows(self, batch: Batch, now_us: int) -> None:
        table = self.table(batch)
        data = batch.rows.columns(batch.partition, now_us)
        started = self._clock.monotonic()
        self._insert(table, data, column_names(batch.kind), batch.token())
        n = len(batch.rows)
        self._metrics.batch_inserted(table, n, self._clock.monotonic() - started)
        self._metrics.rows_inserted(table, n)
        done_us = self._clock.time() * 1e6
        event_s = (done_us - np.asarray(batch.rows.event_times_us(), dtype=np.float64)) / 1e6
        kafka_s = (done_us / 1e3 - np.asarray(batch.rows.kafka_time_ms, dtype=np.float64)) / 1e3
        self._metrics.end_to_end(batch.kind.value, event_s, kafka_s)

    def _insert(
        self, table: str, data: list[list[Any]], names: tuple[str, ...], token: str
    ) -> None:
        settings = {**INSERT_SETTINGS, "insert_deduplication_token": token}
        try:
            self._client.insert(
                table, data, column_names=list(names), column_oriented=True, settings=settings
            )
        except (ClickHouseError, OSError) as exc:
            raise ClickHouseUnavailable(f"insert into {table} ({token}) failed: {exc}") from exc
