"""Where a load worker's time per row goes, step by step, and what raw pass-through would cost.

In this process, on one batch of the seeded tape (``STEP_ROWS`` trades, the load worker's
default batch size, or ``--trades`` if smaller): the worker's own functions — decode + validate
(``pipeline.codec``), the column buffer (``pipeline.load.tables``) and one column-oriented
clickhouse-connect INSERT with the worker's settings — each timed on its own, best of
``REPEATS``. Then the alternative the README proposes: hand ClickHouse the message bytes as
``JSONEachRow`` (Kafka coordinates appended to each object) through ``INSERT … SELECT … FROM
input(…)``, which moves parsing into ClickHouse's C++ parser; timed the same way, client-side
build and server round trip together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from bench.context import BenchContext
from bench.deadline import Deadline
from bench.figures import Figure
from bench.tape import TradeTape
from pipeline.codec import RecordType, ValidationRules, decode, validate
from pipeline.load.insert import INSERT_SETTINGS
from pipeline.load.tables import ColumnBuffer, column_names
from tickwatch.settings import LoadSettings

T = TypeVar("T")
NAME = "steps"
STEP_ROWS = 50_000
REPEATS = 3
INPUT_COLUMNS = (
    "v UInt8, type String, symbol String, asset_class String, ts Int64, price Float64, "
    "size Float64, exchange String, trade_id String, conditions Array(String), source String, "
    "recv_ts Int64, instrument String, venue String, kafka_partition UInt16, "
    "kafka_offset UInt64, kafka_ms Int64"
)
RAW_INSERT_SQL = (
    "INSERT INTO {table} (symbol, asset_class, event_time, price, size, exchange, trade_id, "
    "conditions, source, received_at, instrument, venue, kafka_time, inserted_at, "
    "kafka_partition, kafka_offset) "
    "SELECT symbol, asset_class, fromUnixTimestamp64Micro(ts, 'UTC'), price, "
    "size, exchange, trade_id, conditions, source, fromUnixTimestamp64Micro(recv_ts, 'UTC'), "
    "instrument, venue, fromUnixTimestamp64Milli(kafka_ms, 'UTC'), now64(6), kafka_partition, "
    "kafka_offset FROM input('{columns}') WHERE v = 1 AND type = 'trade' FORMAT JSONEachRow"
)


def best_of(action: Callable[[int], T], repeats: int = REPEATS) -> tuple[float, T]:
    """The shortest of ``repeats`` timed calls of ``action(attempt)`` in seconds, and what the
    last call returned."""
    times = []
    for attempt in range(repeats):
        started = time.perf_counter()
        result = action(attempt)
        times.append(time.perf_counter() - started)
    return min(times), result


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """µs per row of each load-worker step, and rows/s of the pass-through alternative."""
    now_us = int(time.time() * 1e6)
    size = min(STEP_ROWS, ctx.options.trades)
    tape = TradeTape(size, ctx.options.seed, ctx.options.symbols, now_us - 60_000_000)
    _, values = next(tape.chunks(size))
    rules = ValidationRules.from_settings(LoadSettings())
    decode_s, rows = best_of(lambda _: _decoded(values, rules, now_us))
    build_s, columns = best_of(lambda _: _columns(rows, now_us))
    databases = ctx.warehouse.fresh(ctx.name("steps"))
    table = f"{databases.market}.trades"
    try:
        insert_s, _ = best_of(lambda n: _insert(ctx, table, columns, f"steps:{n}"))
        deadline.check("load steps")
        body_s, _ = best_of(lambda _: _body(values, now_us // 1000))
        passthrough_s, _ = best_of(lambda n: _pass_through(ctx, table, values, now_us, n))
    finally:
        ctx.warehouse.drop(databases)
    per_row = [("decode + validate", decode_s), ("column buffer", build_s)]
    per_row.append(("INSERT, clickhouse-connect", insert_s))
    out = [Figure(NAME, f"{name} (µs/row)", s / size * 1e6, "µs") for name, s in per_row]
    python_path = decode_s + build_s + insert_s
    out.append(Figure(NAME, "worker steps together", size / python_path, "rows/s"))
    out.append(
        Figure(
            NAME, "JSONEachRow pass-through (build + INSERT)", size / passthrough_s,
            "rows/s", note=f"client-side build {body_s / size * 1e6:.1f} µs/row",
        )
    )  # fmt: skip
    return out


def _decoded(values: list[bytes], rules: ValidationRules, now_us: int) -> list[list[Any]]:
    return [validate(decode(value), RecordType.TRADE, rules, now_us) for value in values]


def _columns(rows: list[list[Any]], now_us: int) -> list[list[Any]]:
    buffer = ColumnBuffer(RecordType.TRADE)
    for offset, row in enumerate(rows):
        buffer.append(list(row), now_us // 1000, offset)
    return buffer.columns(0, now_us)


def _insert(ctx: BenchContext, table: str, columns: list[list[Any]], token: str) -> None:
    ctx.warehouse.client.insert(
        table, columns, column_names=list(column_names(RecordType.TRADE)),
        column_oriented=True, settings={**INSERT_SETTINGS, "insert_deduplication_token": token},
    )  # fmt: skip


def _body(values: list[bytes], kafka_ms: int) -> bytes:
    """Each message's JSON object with the Kafka coordinates appended, one per line."""
    suffix = b',"kafka_partition":0,"kafka_offset":%d,"kafka_ms":%d}'
    return b"\n".join([value[:-1] + suffix % (i, kafka_ms) for i, value in enumerate(values)])


def _pass_through(
    ctx: BenchContext, table: str, values: list[bytes], now_us: int, attempt: int
) -> None:
    query = RAW_INSERT_SQL.format(table=table, columns=INPUT_COLUMNS)
    params = {"query": query, "insert_deduplication_token": f"raw:{attempt}"}
    response = httpx.post(
        ctx.services.clickhouse_url, params=params, content=_body(values, now_us // 1000),
        timeout=60.0,
    )  # fmt: skip
    response.raise_for_status()
