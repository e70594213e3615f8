"""Corrections, cancels and trade conditions against the real ClickHouse (issue 13 §4): the 1 s
and 1 min candles equal a Python reference computed from the corrected trade set, whatever the
order of trades and corrections, after replays and after a half-written batch."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry

from pipeline.codec import Record, RecordType, ValidationRules, to_wire, validate
from pipeline.load.batch import Batch
from pipeline.load.insert import ClickHouseWriter
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings, LoadSettings
from tickwatch.telemetry.catalog import LoadMetrics

from .corrections_reference import corrected, corrections, reference_candles, trades

pytestmark = pytest.mark.clickhouse

NOW_US = int(time.time()) * 10**6
DAY_US = 86_400 * 10**6
RULES = ValidationRules.from_settings(LoadSettings())
VIEWS = (("candles_1s", 10**6), ("candles_1m", 60 * 10**6))


def batch_of(records: Sequence[Record], kind: RecordType, first_offset: int) -> Batch:
    batch = Batch(f"t.{kind.value}", 0, kind, first_offset, 0.0)
    for offset, record in enumerate(records, start=first_offset):
        row = validate(to_wire(record), kind, RULES, NOW_US + DAY_US)
        batch.rows.append(row, NOW_US // 1000, offset)
    batch.last_offset = first_offset + len(records) - 1
    return batch


@pytest.fixture
def writer(ch_settings: ClickHouseSettings, ch_client: Client) -> ClickHouseWriter:
    metrics = LoadMetrics(CollectorRegistry())
    return ClickHouseWriter(ch_client, ch_settings, ManualClock(NOW_US / 1e6), metrics)


def stored(client: Client, view: str) -> dict[tuple[str, int], tuple[Any, ...]]:
    rows = client.query(
        f"SELECT symbol, toUnixTimestamp(bucket), open, high, low, close, volume, "
        f"vwap, trade_count FROM {view}"
    ).result_rows
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def assert_candles_match(client: Client, expected_trades: list[Any]) -> None:
    for view, bucket_us in VIEWS:
        got, expected = stored(client, view), reference_candles(expected_trades, bucket_us)
        assert got.keys() == expected.keys(), view
        for key, values in expected.items():
            row = got[key]
            assert [v is None for v in row] == [v is None for v in values], (view, key)
            present = [(a, b) for a, b in zip(row, values, strict=True) if b is not None]
            assert [a for a, _ in present] == pytest.approx([b for _, b in present], rel=1e-9), (
                view,
                key,
            )


def test_candles_honour_conditions_cancels_and_corrections_across_replays(
    writer: ClickHouseWriter, ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    ticks = trades(2400, seed=31, start_us=NOW_US)
    fixes = corrections(ticks, seed=32)
    assert reference_candles(ticks, 10**6) != reference_candles(corrected(ticks, fixes), 10**6)
    trade_batches = [batch_of(ticks[i : i + 600], RecordType.TRADE, i) for i in range(0, 2400, 600)]
    half = len(fixes) // 2
    fix_batches = [
        batch_of(fixes[:half], RecordType.CORRECTION, 0),
        batch_of(fixes[half:], RecordType.CORRECTION, half),
    ]
    # A correction may arrive before the trade it names (another topic, another consumer).
    writer.write(fix_batches[1])
    for batch in trade_batches[:2]:
        writer.write(batch)
    assert_candles_match(ch_client, corrected(ticks[:1200], fixes[half:]))

    # A half-written batch (trades stored, the 1 min view not fed: a kill between the two) is
    # completed by its replay; replays of corrections apply them once.
    market = ch_settings.market_database
    ch_client.command(f"DETACH TABLE {market}.candles_1m_mv")
    writer.write(trade_batches[2])
    ch_client.command(f"ATTACH TABLE {market}.candles_1m_mv")
    for batch in [trade_batches[2], trade_batches[3], *fix_batches, *fix_batches, trade_batches[0]]:
        writer.write(batch)

    assert ch_client.query("SELECT count() FROM trades").result_rows[0][0] == 2400
    assert ch_client.query("SELECT count() FROM trade_corrections").result_rows[0][0] == len(fixes)
    assert_candles_match(ch_client, corrected(ticks, fixes))


def test_without_corrections_the_views_read_only_the_states(
    writer: ClickHouseWriter, ch_client: Client
) -> None:
    ticks = trades(600, seed=33, start_us=NOW_US)
    writer.write(batch_of(ticks, RecordType.TRADE, 0))
    assert_candles_match(ch_client, ticks)
    plan = "\n".join(r[0] for r in ch_client.query("EXPLAIN SELECT * FROM candles_1m").result_rows)
    assert "candles_1m_state" in plan


def test_a_batch_replayed_after_the_views_are_reloaded_counts_once(
    writer: ClickHouseWriter, ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    """A server restart reloads the candle views from their stored definitions; a batch written
    before it and replayed after it must still be a no-op in the candle states (it was not when
    0015 changed the views with MODIFY QUERY)."""
    batch = batch_of(trades(600, seed=34, start_us=NOW_US), RecordType.TRADE, 0)
    writer.write(batch)
    market = ch_settings.market_database
    for view in ("candles_1s_mv", "candles_1m_mv"):
        ch_client.command(f"DETACH TABLE {market}.{view}")
        ch_client.command(f"ATTACH TABLE {market}.{view}")
    writer.write(batch)
    for state in ("candles_1s_state", "candles_1m_state"):
        total = ch_client.query(f"SELECT sum(trade_count) FROM {state}").result_rows[0][0]
        assert total == 600, state
