"""The Arrow insert against the real ClickHouse: every column type round-trips exactly, a value
out of its column's range is bisected down to one dead letter, and the tables map to Arrow."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry

from pipeline.codec import Bar, Quote, RecordType, Trade, ValidationRules, decode, to_wire, validate
from pipeline.codec.columnar import decode_poll
from pipeline.load.arrow import OUT_OF_RANGE, schema
from pipeline.load.batch import Batch
from pipeline.load.insert import INSERT_SETTINGS, ClickHouseWriter
from pipeline.load.tables import TABLES, column_names
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings, LoadSettings
from tickwatch.telemetry.catalog import LoadMetrics

pytestmark = pytest.mark.clickhouse

NOW_US = int(time.time()) * 10**6 + 123_457  # microseconds that a millisecond type would lose
KAFKA_MS = NOW_US // 1000 - 7
RULES = ValidationRules.from_settings(LoadSettings())
UINT32_MAX = 2**32 - 1
RECORDS: dict[RecordType, list[Any]] = {
    RecordType.TRADE: [
        Trade("BRK.B", NOW_US - 1, 0.1 + 0.2, 1e-8, exchange="Börse", trade_id="ид-7",
              conditions=(), venue="XNYS", tape="A", updates_volume=0, source="日本",
              recv_ts=NOW_US + 3),
        Trade("AAPL", NOW_US - 999_999, 189.123456789, 100.0, conditions=("@", "F", "T"),
              instrument="AAPL", recv_ts=0),
    ],
    RecordType.QUOTE: [
        Quote("EUR/USD", NOW_US - 5, 1.0841, 1e6, 1.0842, 2e6, bid_exchange="ü",
              lot_size=UINT32_MAX, conditions=("R",)),
        Quote("ETH-USD", NOW_US - 6, 1999.99, 0.0, 2000.01, 0.5, lot_size=0),
    ],
    RecordType.BAR: [
        Bar("BTC-USD", NOW_US - 60 * 10**6, UINT32_MAX, 100.0, 110.0, 95.0, 105.0, 12.5,
            101.0, 2**63 - 1),
        Bar("SPY", NOW_US - 120 * 10**6, 60, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0),
    ],
}  # fmt: skip


def values_of(records: list[Any]) -> list[bytes]:
    return [orjson.dumps(to_wire(r)) for r in records]


def both_paths(kind: RecordType, records: list[Any], partition: int = 0) -> Batch:
    """A batch holding ``records`` twice: taken from the columnar decode, then appended one by
    one through the per-message path (offsets 0..n-1, then n..2n-1)."""
    values = values_of(records)
    found = decode_poll(list[bytes | None](values), [KAFKA_MS] * len(values), kind, RULES, NOW_US)
    assert all(row >= 0 for row in found.where)
    batch = Batch(f"t.{kind.value}", partition, kind, 0, 0.0)
    for offset, row in enumerate(found.where):
        batch.rows.take(found.arrays, row, KAFKA_MS, offset)
    for offset, value in enumerate(values, start=len(values)):
        batch.rows.append(validate(decode(value), kind, RULES, NOW_US), KAFKA_MS, offset)
    batch.last_offset = 2 * len(values) - 1
    return batch


def stored(client: Client, table: str, kind: RecordType) -> list[list[Any]]:
    """The table's rows in column_names order, times as integer ticks, by offset."""
    ticks = {"kafka_time": "Milli", "event_time": "Micro", "received_at": "Micro"}
    ticks["inserted_at"] = "Micro"
    names = [f"toUnixTimestamp64{ticks[n]}({n})" if n in ticks else n for n in column_names(kind)]
    rows = client.query(f"SELECT {', '.join(names)} FROM {table} ORDER BY kafka_offset")
    return [list(r) for r in rows.result_rows]


@pytest.fixture
def writer(ch_settings: ClickHouseSettings, ch_client: Client) -> ClickHouseWriter:
    metrics = LoadMetrics(CollectorRegistry())
    return ClickHouseWriter(ch_client, ch_settings, ManualClock(NOW_US / 1e6), metrics)


@pytest.mark.parametrize("kind", [RecordType.TRADE, RecordType.QUOTE, RecordType.BAR])
def test_every_column_type_round_trips_exactly(
    kind: RecordType, writer: ClickHouseWriter, ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    """Max UInt32 and UInt64-as-Int64, microseconds, empty and longer arrays, non-ASCII text,
    floats to the last bit, the Kafka columns: what ClickHouse holds is what the batch held."""
    batch = both_paths(kind, RECORDS[kind], partition=5)
    expected = [list(r) for r in zip(*batch.rows.columns(5, NOW_US), strict=True)]
    assert writer.write(batch)
    found = stored(ch_client, f"{ch_settings.market_database}.{TABLES[kind]}", kind)
    assert found == expected
    half = len(found) // 2  # the two paths agree on every field but the offset
    assert [r[:-1] for r in found[:half]] == [r[:-1] for r in found[half:]]
    first = found[0]
    names = column_names(kind)
    assert first[names.index("event_time")] % 1000 != 0  # microseconds kept
    if kind is RecordType.TRADE:
        assert found[0][names.index("conditions")] == []
        assert found[0][names.index("exchange")] == "Börse"
        assert found[1][names.index("received_at")] == KAFKA_MS * 1000  # recv_ts 0 filled in


def test_a_value_out_of_its_columns_range_is_bisected_to_one_dead_letter_and_replays_once(
    ch_settings: ClickHouseSettings, ch_client: Client
) -> None:
    """Validation accepts a lot size of 2**33 (a non-negative integer); the column is UInt32.
    The safe cast refuses it before sending, the batch is bisected on the Arrow path like any
    rejection, the good rows land once and the bad one is one dead letter, also after a replay
    of the whole batch by a new writer (a new owner after a crash)."""
    good = Quote("EUR/USD", NOW_US - 5, 1.0841, 1e6, 1.0842, 2e6)
    records = [good] * 20
    values = values_of(records)
    values[13] = orjson.dumps({**to_wire(good), "lot_size": 2**33})

    def batch() -> Batch:
        found = decode_poll(
            list[bytes | None](values), [KAFKA_MS] * 20, RecordType.QUOTE, RULES, NOW_US
        )
        out = Batch("t.quotes", 1, RecordType.QUOTE, 100, 0.0)
        for offset, row in enumerate(found.where, start=100):
            out.rows.take(found.arrays, row, KAFKA_MS, offset)
        out.last_offset = 119
        return out

    for _ in range(2):
        metrics = LoadMetrics(CollectorRegistry())
        writer = ClickHouseWriter(ch_client, ch_settings, ManualClock(NOW_US / 1e6), metrics)
        assert writer.write(batch())
    market, ops = ch_settings.market_database, ch_settings.ops_database
    offsets = ch_client.query(f"SELECT kafka_offset FROM {market}.quotes ORDER BY 1").result_rows
    assert [o for (o,) in offsets] == [o for o in range(100, 120) if o != 113]
    letters = ch_client.query(
        f"SELECT kafka_offset, reason, detail FROM {ops}.dead_letters"
    ).result_rows
    assert len(letters) == 1
    offset, reason, detail = letters[0]
    assert (offset, reason) == (113, OUT_OF_RANGE) and "lot_size" in detail


@pytest.mark.parametrize("kind", list(RecordType))
def test_every_ticks_table_maps_to_arrow_and_takes_the_decoders_types(
    kind: RecordType, ch_settings: ClickHouseSettings, ch_client: Client
) -> None:
    """The tables as migrated (every migration up to now) have a lossless Arrow type for each
    column the worker writes, and the decoder's types cast to them (an empty batch)."""
    table = f"{ch_settings.market_database}.{TABLES[kind]}"
    names = list(column_names(kind))
    context = ch_client.create_insert_context(table, names, settings=INSERT_SETTINGS)
    target = schema(table, names, [t.name for t in context.column_types])
    assert target.names == names
    empty = Batch(f"t.{kind.value}", 0, kind, 0, 0.0).rows.arrow(0, NOW_US)
    assert empty.cast(target).schema == target
