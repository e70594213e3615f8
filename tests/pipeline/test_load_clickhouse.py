"""The insert step against the real ClickHouse: replays are no-ops, candles are right."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry

from pipeline.codec import RecordType, Trade, ValidationRules, to_wire, validate
from pipeline.dlq import DeadLetter
from pipeline.load.batch import Batch
from pipeline.load.insert import ClickHouseWriter
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings, LoadSettings
from tickwatch.telemetry.catalog import LoadMetrics

pytestmark = pytest.mark.clickhouse

NOW_US = int(time.time()) * 10**6  # rows older than the tables' TTL would be dropped
DAY_US = 86_400 * 10**6
RULES = ValidationRules.from_settings(LoadSettings())


def trades(n: int, seed: int, start_us: int = NOW_US) -> list[Trade]:
    rng = random.Random(seed)
    return [
        Trade(
            f"S{rng.randrange(4)}",
            start_us + rng.randrange(150 * 10**6),
            round(rng.uniform(90, 110), 2),
            float(rng.randrange(1, 500)),
        )
        for _ in range(n)
    ]


def batch_of(ticks: list[Trade], first_offset: int, partition: int = 0, dead: int = 0) -> Batch:
    batch = Batch("t.trades", partition, RecordType.TRADE, first_offset, 0.0)
    for offset, tick in enumerate(ticks, start=first_offset):
        row = validate(to_wire(tick), RecordType.TRADE, RULES, NOW_US + DAY_US)
        batch.rows.append(row, NOW_US // 1000, offset)
    for offset in range(first_offset + len(ticks), first_offset + len(ticks) + dead):
        batch.dead_letters.append(
            DeadLetter("t.trades", partition, offset, 1, b"k", b"{", "malformed_json", "x")
        )
    batch.last_offset = first_offset + len(ticks) + dead - 1
    return batch


@pytest.fixture
def writer(ch_settings: ClickHouseSettings, ch_client: Client) -> ClickHouseWriter:
    metrics = LoadMetrics(CollectorRegistry())
    return ClickHouseWriter(ch_client, ch_settings, ManualClock(NOW_US / 1e6), metrics)


def reference_candles(ticks: list[Trade], bucket_us: int) -> dict[tuple[str, int], tuple[Any, ...]]:
    """OHLCV per (symbol, bucket start in s), computed in Python from the ticks."""
    groups: dict[tuple[str, int], list[Trade]] = defaultdict(list)
    for tick in ticks:
        groups[(tick.symbol, tick.ts // bucket_us * bucket_us // 10**6)].append(tick)
    out = {}
    for key, group in groups.items():
        by_time = sorted(group, key=lambda t: t.ts)
        volume = sum(t.size for t in group)
        vwap = sum(t.price * t.size for t in group) / volume
        prices = [t.price for t in group]
        out[key] = (
            by_time[0].price,
            max(prices),
            min(prices),
            by_time[-1].price,
            volume,
            round(vwap, 6),
            len(group),
        )
    return out


def stored_candles(client: Client, view: str) -> dict[tuple[str, int], tuple[Any, ...]]:
    rows = client.query(
        f"SELECT symbol, toUnixTimestamp(bucket), open, high, low, close, volume, "
        f"round(vwap, 6), trade_count FROM {view}"
    ).result_rows
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def count(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def test_replayed_batches_count_once_in_table_and_candle_views(
    writer: ClickHouseWriter, ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    ticks = trades(3000, seed=1)
    batches = [batch_of(ticks[i : i + 1000], first_offset=i) for i in range(0, 3000, 1000)]
    for _ in range(3):
        for batch in batches:
            writer.write(batch)
    assert count(ch_client, "SELECT count() FROM trades") == 3000
    assert count(ch_client, "SELECT sum(trade_count) FROM candles_1s") == 3000
    assert count(ch_client, "SELECT sum(trade_count) FROM candles_1m") == 3000
    assert count(ch_client, "SELECT sum(trade_count) FROM candles_1s_state") == 3000
    assert count(ch_client, "SELECT sum(records) FROM symbol_activity_daily") == 3000
    assert count(ch_client, "SELECT count() FROM symbol_latest") == 4  # S0..S3, one row each


def test_candles_equal_a_python_reference_after_out_of_order_batches_and_replays(
    writer: ClickHouseWriter, ch_client: Client
) -> None:
    ticks = trades(2400, seed=2)
    batches = [
        batch_of(ticks[i : i + 400], first_offset=i, partition=i % 2) for i in range(0, 2400, 400)
    ]
    for batch in [*batches[::-1], batches[2], batches[0]]:
        writer.write(batch)
    for view, bucket_us in (("candles_1s", 10**6), ("candles_1m", 60 * 10**6)):
        stored = stored_candles(ch_client, view)
        expected = reference_candles(ticks, bucket_us)
        assert stored.keys() == expected.keys()
        for key, values in expected.items():
            assert stored[key] == pytest.approx(values, rel=1e-9), (view, key)


def test_half_written_batch_is_completed_by_its_replay(
    writer: ClickHouseWriter, ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    """Table written but a view not (a kill between the two): the replay fills the view only."""
    batch = batch_of(trades(500, seed=3), first_offset=0)
    market = ch_settings.market_database
    ch_client.command(f"DETACH TABLE {market}.candles_1m_mv")
    writer.write(batch)
    ch_client.command(f"ATTACH TABLE {market}.candles_1m_mv")
    assert count(ch_client, "SELECT count() FROM candles_1m_state") == 0
    writer.write(batch)
    writer.write(batch)
    assert count(ch_client, "SELECT count() FROM trades") == 500
    assert count(ch_client, "SELECT sum(trade_count) FROM candles_1s") == 500
    assert count(ch_client, "SELECT sum(trade_count) FROM candles_1m") == 500


def test_batch_spanning_two_days_is_two_parts_and_replays_cleanly(
    writer: ClickHouseWriter, ch_client: Client
) -> None:
    ticks = trades(300, seed=4, start_us=NOW_US - DAY_US) + trades(300, seed=5)
    batch = batch_of(ticks, first_offset=0)
    writer.write(batch)
    writer.write(batch)
    assert count(ch_client, "SELECT count() FROM trades") == 600
    assert count(ch_client, "SELECT uniqExact(toDate(event_time)) FROM trades") == 2
    assert count(ch_client, "SELECT sum(trade_count) FROM candles_1m") == 600


def test_dead_letters_land_once_with_their_coordinates(
    writer: ClickHouseWriter, ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    batch = batch_of(trades(10, seed=6), first_offset=100, partition=2, dead=3)
    writer.write(batch)
    writer.write(batch)
    rows = ch_client.query(
        f"SELECT topic, kafka_partition, kafka_offset, key, reason, payload "
        f"FROM {ch_settings.ops_database}.dead_letters ORDER BY kafka_offset"
    ).result_rows
    assert rows == [("t.trades", 2, o, "k", "malformed_json", "{") for o in (110, 111, 112)]
    assert count(ch_client, "SELECT count() FROM trades") == 10
