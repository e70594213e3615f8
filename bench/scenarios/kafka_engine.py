"""Scenario 2a, the reference: ClickHouse's own Kafka table engine drains the same topic.

A ``Kafka`` engine table reads the topic (JSONEachRow, one consumer, like one load worker
process) and a materialized view converts each message into a row of a table created by the
same migrations as ``market.trades`` (so the candle views fire on both paths). Throughput is
measured like the load worker's: row count over time until it reaches the topic's size.
"""

from __future__ import annotations

import time

from bench.context import BenchContext, ServerCpu
from bench.deadline import Deadline
from bench.errors import BenchError, ScenarioTimeout
from bench.figures import Figure
from bench.throughput import watch_rows
from bench.warehouse import BenchDatabases, Warehouse

NAME = "kafka-engine"
# One consumer, as one load worker process is one consumer. Blocks are flushed like the load
# worker's batches (50k rows or 500 ms, its defaults) so neither side waits on a longer timer.
ENGINE_SETTINGS: dict[str, str | int] = {
    "kafka_format": "JSONEachRow",
    "kafka_num_consumers": 1,
    "kafka_max_block_size": 50_000,
    "kafka_flush_interval_ms": 500,
}
QUEUE_COLUMNS = """
    v UInt8, type LowCardinality(String), symbol String, asset_class String, ts Int64,
    price Float64, size Float64, exchange String, trade_id String, conditions Array(String),
    source String, recv_ts Int64
"""
VIEW_SELECT = """
    SELECT symbol, asset_class, fromUnixTimestamp64Micro(ts, 'UTC') AS event_time, price, size,
           exchange, trade_id, conditions, source,
           fromUnixTimestamp64Micro(recv_ts, 'UTC') AS received_at,
           ifNull(_timestamp_ms, now64(3)) AS kafka_time, now64(6) AS inserted_at,
           toUInt16(_partition) AS kafka_partition, _offset AS kafka_offset
    FROM {queue} WHERE type = 'trade'
"""


def queue_ddl(table: str, bootstrap: str, topic: str, group: str) -> str:
    """``CREATE TABLE`` of the Kafka engine table reading ``topic`` as consumer group ``group``."""
    settings = {
        "kafka_broker_list": bootstrap,
        "kafka_topic_list": topic,
        "kafka_group_name": group,
        **ENGINE_SETTINGS,
    }
    rendered = ", ".join(
        f"{key} = {value}" if isinstance(value, int) else f"{key} = '{value}'"
        for key, value in settings.items()
    )
    return f"CREATE TABLE {table} ({QUEUE_COLUMNS}) ENGINE = Kafka SETTINGS {rendered}"


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """Rows/s of the Kafka engine until ``count()`` reaches the pre-filled topic's size."""
    topic = ctx.prefilled(deadline)
    databases = ctx.warehouse.fresh(ctx.name("kafka_engine"))
    queue = f"{databases.market}.trades_queue"
    ctx.warehouse.client.command(
        queue_ddl(queue, ctx.services.bootstrap, topic.topics.trades, ctx.name("kafka_engine"))
    )
    server = ServerCpu(ctx.services.clickhouse_pid)
    started = time.monotonic()
    # Consumption starts when the view attaches: the clock starts just before.
    ctx.warehouse.client.command(
        f"CREATE MATERIALIZED VIEW {databases.market}.trades_from_queue "
        f"TO {databases.market}.trades AS {VIEW_SELECT.format(queue=queue)}"
    )
    try:
        measured = watch_rows(
            lambda: ctx.warehouse.count(f"{databases.market}.trades"),
            topic.records, started, deadline, lambda: None,
        )  # fmt: skip
    except ScenarioTimeout as exc:
        raise BenchError(
            f"{exc}; Kafka engine consumers: {_consumer_state(ctx.warehouse)}"
        ) from exc
    finally:
        _drop_engine(ctx.warehouse, databases)
    cpu = server.used()
    extra = {**measured.as_json(), "engine_settings": ENGINE_SETTINGS, "server_cpu_s": cpu}
    out = [
        Figure(NAME, "rows/s (steady)", measured.rows_per_s, "rows/s", extra=extra),
        Figure(NAME, "rows/s incl. start-up", measured.wall_rows_per_s, "rows/s"),
    ]
    if cpu is not None:
        out.append(Figure(NAME, "ClickHouse server CPU", cpu, "s"))
        per_million = cpu / (measured.rows / 1e6)
        out.append(Figure(NAME, "CPU per 1M rows (server)", per_million, "s"))
    return out


def _drop_engine(warehouse: Warehouse, databases: BenchDatabases) -> None:
    """Stop consuming (view first, then the queue table), then drop the databases."""
    warehouse.client.command(f"DROP VIEW IF EXISTS {databases.market}.trades_from_queue SYNC")
    warehouse.client.command(f"DROP TABLE IF EXISTS {databases.market}.trades_queue SYNC")
    warehouse.drop(databases)


def _consumer_state(warehouse: Warehouse) -> str:
    """What ``system.kafka_consumers`` says about assignments and the last exceptions."""
    try:
        result = warehouse.client.query(
            "SELECT database, table, length(assignments.topic) AS assigned, "
            "exceptions.text AS errors FROM system.kafka_consumers"
        )
    except Exception as exc:  # the diagnosis must not hide the original timeout
        return f"(could not read system.kafka_consumers: {exc})"
    return repr(result.result_rows) or "(no consumers)"
