"""A day of simulator data in the hot tables, stored as the load worker stores it.

The simulator's tape over ``[start, start + seconds)`` (records and the one-minute bars), each
record put through the load path's validation and column buffers and inserted with a
deduplication token, like one load batch per record type. Kafka is not the point here, so the
Kafka columns carry made-up coordinates.
"""

from __future__ import annotations

import re
from datetime import datetime

from clickhouse_connect.driver.client import Client

from pipeline.codec import RawMessage, RecordType, ValidationRules, to_wire, validate
from pipeline.load.tables import TABLES, ColumnBuffer, column_names
from pipeline.sources.anomalies import parse_anomalies
from pipeline.sources.market import MarketModel
from pipeline.sources.tape import Tape
from pipeline.sources.universe import build_universe
from tickwatch.market_hours import InstrumentHours

RULES = ValidationRules(
    max_past_us=10**15,
    max_future_us=10**15,
    symbol_pattern=re.compile(r"^[A-Z0-9][A-Z0-9.\-/:_=^]{0,31}$"),
)


def load_sim_day(
    client: Client, start: datetime, seconds: int, *, rate: float = 20.0
) -> dict[str, int]:
    """Insert the simulated records of ``seconds`` from ``start``; rows per table."""
    start_us = int(start.timestamp() * 1e6)
    universe = build_universe(6, 11)
    always = InstrumentHours(None, [""] * len(universe.symbols), universe.exchange)
    model = MarketModel(
        universe, seed=11, rate=rate, quote_ratio=0.5, start_us=start_us,
        hours=always, anomalies=parse_anomalies(""),
    )  # fmt: skip
    items, _ = Tape(model, "simulator").take(start_us + seconds * 1_000_000 - 1, 10**9)
    buffers = {kind: ColumnBuffer(kind) for kind in RecordType}
    for offset, item in enumerate(items):
        assert not isinstance(item, RawMessage)
        body = to_wire(item, recv_ts=item.ts + 1000)
        row = validate(body, item.kind, RULES, item.ts)
        buffers[item.kind].append(row, (item.ts + 2000) // 1000, offset)
    counts = {}
    for kind, buffer in buffers.items():
        if not len(buffer):
            continue
        client.insert(
            TABLES[kind], buffer.columns(0, start_us + seconds * 1_000_000),
            column_names=list(column_names(kind)), column_oriented=True,
            settings={"insert_deduplication_token": f"sim:{kind.value}:{start_us}"},
        )  # fmt: skip
        counts[TABLES[kind]] = len(buffer)
    return counts
