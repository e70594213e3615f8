"""Scenario 2b: the naive consumer tickwatch exists to beat — one INSERT per Kafka message.

It reads the same pre-filled topic (first ``naive_trades`` messages), decodes each message and
inserts it on its own with clickhouse-connect, offsets auto-committed. It runs in this process:
the figure is its rows/s, not its cost.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import Consumer, Message

from bench.context import BenchContext
from bench.deadline import Deadline
from bench.errors import BenchError
from bench.figures import Figure

NAME = "naive"
COLUMNS = [
    "symbol", "asset_class", "event_time", "price", "size", "exchange", "trade_id",
    "conditions", "source", "received_at", "kafka_time", "inserted_at", "kafka_partition",
    "kafka_offset",
]  # fmt: skip


def row(value: bytes, partition: int, offset: int, kafka_ms: int) -> list[Any]:
    """One ``market.trades`` row from one wire-format message."""
    body = orjson.loads(value)
    return [
        body["symbol"], body["asset_class"], _micros(body["ts"]), body["price"], body["size"],
        body["exchange"], body["trade_id"], body["conditions"], body["source"],
        _micros(body["recv_ts"]), datetime.fromtimestamp(kafka_ms / 1e3, UTC),
        datetime.now(UTC), partition, offset,
    ]  # fmt: skip


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """Rows/s of one-message-one-INSERT over the first ``naive_trades`` messages."""
    topic = ctx.prefilled(deadline)
    target = min(ctx.options.naive_trades, topic.records)
    databases = ctx.warehouse.fresh(ctx.name("naive"))
    table = f"{databases.market}.trades"
    consumer = Consumer(
        {
            "bootstrap.servers": ctx.services.bootstrap,
            "group.id": ctx.name("naive"),
            "auto.offset.reset": "earliest",
            "log_level": 3,
        }
    )
    consumer.subscribe([topic.topics.trades])
    try:
        started, inserted = 0.0, 0
        while inserted < target:
            deadline.check(f"naive consumer ({inserted} of {target} rows)")
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                raise BenchError(f"naive consumer: {message.error()}")
            started = started or time.monotonic()
            fields = row(message.value() or b"{}", *_coordinates(message))
            ctx.warehouse.client.insert(table, [fields], column_names=COLUMNS)
            inserted += 1
        seconds = time.monotonic() - started
    finally:
        consumer.close()
    rows = ctx.warehouse.count(table)
    ctx.warehouse.drop(databases)
    extra = {"rows": rows, "seconds": round(seconds, 3)}
    rate = inserted / seconds
    shown = f"{rate:,.0f} rows/s ({1000 / rate:.0f} ms per INSERT)"
    return [Figure(NAME, "rows/s", rate, "rows/s", display=shown, extra=extra)]


def _micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1e6, UTC)


def _coordinates(message: Message) -> tuple[int, int, int]:
    """(partition, offset, broker timestamp in ms) of a consumed message."""
    _, kafka_ms = message.timestamp()
    return message.partition() or 0, message.offset() or 0, kafka_ms
