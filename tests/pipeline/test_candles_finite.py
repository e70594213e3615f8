"""No message validation accepts can make a candle non-finite (issue 12, finding 3).

Seeded random trades (log-uniform magnitudes over the whole float64 range, signed zeros,
subnormals) plus hand-picked extremes (bursts of trades at each asset class's sanity bounds in
one second) go through the real decode + validate; every accepted one is inserted through the
load worker's writer into the real ClickHouse, and every 1 s and 1 min candle — open, high,
low, close, volume and vwap — must be finite.
"""

from __future__ import annotations

import random
import time
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry

from pipeline.codec import AssetClass, RecordType, Trade, ValidationRules, decode, to_wire, validate
from pipeline.errors import InvalidMessage
from pipeline.load.batch import Batch
from pipeline.load.insert import ClickHouseWriter
from tickwatch.clock import SystemClock
from tickwatch.settings import ClickHouseSettings, LoadSettings
from tickwatch.telemetry.catalog import LoadMetrics

SEED = 1201
RANDOM_TRADES = 4000
BURST = 300
RULES = ValidationRules.from_settings(LoadSettings())
EXTREMES = [
    5e-324, 2.2250738585072014e-308, 1e-300, 1e-12, 1e-8, 0.0, -0.0, -1.0, 1.0,
    1e7, 1e8, 1e10, 1e12, 1e13, 1e15, 1e100, 1e300, 1.7976931348623157e308,
]  # fmt: skip


def magnitude(rng: random.Random) -> float:
    if rng.random() < 0.3:
        return rng.choice(EXTREMES)
    value = 10 ** rng.uniform(-320, 308)
    return -value if rng.random() < 0.05 else value


def candidates(now_us: int) -> list[dict[str, Any]]:
    rng = random.Random(SEED)
    out = []
    for i in range(RANDOM_TRADES):
        asset = rng.choice(list(AssetClass))
        ts = now_us - rng.randrange(0, 120) * 10**6 - rng.randrange(10**6)
        trade = Trade(f"R{i % 5}", ts, magnitude(rng), magnitude(rng), asset_class=asset)
        out.append(to_wire(trade))
    for asset in AssetClass:  # the largest values each bound allows, many in one bucket
        max_price, max_size = RULES.bounds[asset.value]
        for j in range(BURST):
            trade = Trade(f"X{asset.value.upper()}", now_us - 5 * 10**6 + j, max_price, max_size,
                          asset_class=asset)  # fmt: skip
            out.append(to_wire(trade))
            tiny = Trade("TINY", now_us - 7 * 10**6 + j, 5e-324, 5e-324, asset_class=asset)
            out.append(to_wire(tiny))
    return out


@pytest.mark.clickhouse
def test_no_accepted_trade_makes_a_candle_non_finite(
    ch_settings: ClickHouseSettings, ch_client: Client
) -> None:
    now_us = int(time.time() * 1e6)
    batch = Batch("t.trades", 0, RecordType.TRADE, first_offset=0, opened_at=0.0)
    rejected = 0
    for offset, body in enumerate(candidates(now_us)):
        try:
            row = validate(decode(orjson.dumps(body)), RecordType.TRADE, RULES, now_us)
        except InvalidMessage:
            rejected += 1
            continue
        batch.rows.append(row, now_us // 1000, offset)
    batch.last_offset = RANDOM_TRADES + 2 * BURST * len(AssetClass)
    accepted = len(batch.rows)
    assert accepted > 2 * BURST * len(AssetClass) and rejected > RANDOM_TRADES // 2
    writer = ClickHouseWriter(
        ch_client, ch_settings, SystemClock(), LoadMetrics(CollectorRegistry())
    )
    assert writer.write(batch)
    assert batch.dead_letters == []  # ClickHouse took every accepted row
    for view in ("candles_1s", "candles_1m"):
        total, bad = ch_client.query(
            f"SELECT sum(trade_count), countIf(NOT (isFinite(open) AND isFinite(high) "
            f"AND isFinite(low) AND isFinite(close) AND isFinite(volume) AND isFinite(vwap))) "
            f"FROM {view}"
        ).result_rows[0]
        assert total == accepted, view
        assert bad == 0, ch_client.query(f"SELECT * FROM {view} WHERE NOT isFinite(vwap)")
    print(f"accepted {accepted}, rejected {rejected}")
