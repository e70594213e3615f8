"""Scenario 2b, the physical limit: ClickHouse alone ingesting the same rows, pre-built.

The same seeded tape the trades topic holds is decoded (outside the clock) into the rows the load
worker would insert, in ClickHouse's columnar Arrow stream format, one block per tape chunk
(100k rows). The clock then runs only over the INSERTs — synchronous, deduplicated, into a table
created by the same migrations, with the same candle views — so no Kafka and no Python decode is
in the figure: the ceiling of this machine for this schema. The load worker's rows/s divided by
this is the ``tickwatch / ceiling`` ratio (:mod:`bench.ratios`).
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa

from bench.context import BenchContext, ServerCpu
from bench.deadline import Deadline
from bench.figures import Figure
from pipeline.codec import RecordType, ValidationRules
from pipeline.codec.columnar import decode_poll
from pipeline.load.insert import INSERT_SETTINGS, SERVER_BLOCK_ROWS
from pipeline.load.tables import column_names
from tickwatch.settings import LoadSettings

NAME = "ceiling"
_TIMES = {"event_time": "us", "received_at": "us", "kafka_time": "ms", "inserted_at": "us"}


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """Rows/s of pre-built Arrow INSERTs of the tape's rows into fresh tables."""
    now_us = int(time.time() * 1e6)
    blocks = _blocks(ctx, now_us, deadline)
    rows = sum(n for n, _ in blocks)
    databases = ctx.warehouse.fresh(ctx.name("ceiling"))
    table = f"{databases.market}.trades"
    names = list(column_names(RecordType.TRADE))
    settings = {**INSERT_SETTINGS, "min_insert_block_size_rows": SERVER_BLOCK_ROWS}
    server = ServerCpu(ctx.services.clickhouse_pid)
    started = time.monotonic()
    try:
        for i, (_, block) in enumerate(blocks):
            ctx.warehouse.client.raw_insert(
                table, names, block, fmt="ArrowStream",
                settings={**settings, "insert_deduplication_token": f"ceiling:{i}"},
            )  # fmt: skip
            deadline.check("ceiling inserts")
        seconds = time.monotonic() - started
        landed = ctx.warehouse.count(table)
    finally:
        ctx.warehouse.drop(databases)
    cpu = server.used()
    extra = {"rows": rows, "landed": landed, "seconds": round(seconds, 3), "format": "ArrowStream"}
    out = [Figure(NAME, "rows/s (steady)", rows / seconds, "rows/s", extra=extra,
                  note=f"{len(blocks)} INSERTs of pre-built Arrow blocks")]  # fmt: skip
    if cpu is not None:
        out.append(Figure(NAME, "CPU per 1M rows (server)", cpu / (rows / 1e6), "s"))
    return out


def _blocks(ctx: BenchContext, now_us: int, deadline: Deadline) -> list[tuple[int, bytes]]:
    """The tape as Arrow stream blocks of the trades table's columns (partition 0, offsets in
    tape order), decoded and validated by the load worker's own codec."""
    rules = ValidationRules.from_settings(LoadSettings())
    names = column_names(RecordType.TRADE)
    out: list[tuple[int, bytes]] = []
    offset = 0
    for _, values in ctx.tape().chunks():
        kafka_ms = [now_us // 1000] * len(values)
        poll = decode_poll(list(values), kafka_ms, RecordType.TRADE, rules, now_us)
        n = len(poll.columns[0])
        extra = [kafka_ms[:n], [now_us] * n, [0] * n, list(range(offset, offset + n))]
        table = pa.table(
            [
                _array(name, column)
                for name, column in zip(names, [*poll.columns, *extra], strict=True)
            ],
            names=list(names),
        )
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out.append((n, sink.getvalue().to_pybytes()))
        offset += len(values)
        deadline.check("building the ceiling's Arrow blocks")
    return out


def _array(name: str, column: list[object]) -> pa.Array:
    if name in _TIMES:
        unit = _TIMES[name]
        return pa.array(np.asarray(column, dtype=np.int64), pa.timestamp(unit, tz="UTC"))
    if name == "kafka_partition":
        return pa.array(column, pa.uint16())
    if name == "kafka_offset":
        return pa.array(column, pa.uint64())
    return pa.array(column)
