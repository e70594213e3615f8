"""The Arrow form of a batch: ColumnBuffer's chunks and extend, the type mapping and safe casts."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline.codec import RecordType, decode, validate
from pipeline.codec.columnar import decode_poll
from pipeline.errors import InsertRejected, InvalidMessage
from pipeline.load.arrow import OUT_OF_RANGE, ArrowSchemaError, arrow_type, for_table, schema
from pipeline.load.tables import ColumnBuffer, column_names
from tests.pipeline.test_validation import NOW_US, RULES, TRADE, changed

KAFKA_MS = NOW_US // 1000 - 5


def poll(values: list[bytes]) -> list[pa.Array]:
    found = decode_poll(
        list[bytes | None](values), [KAFKA_MS] * len(values), RecordType.TRADE, RULES, NOW_US
    )
    assert all(row >= 0 for row in found.where)
    return found.arrays


def row_of(value: bytes) -> list[object]:
    return validate(decode(value), RecordType.TRADE, RULES, NOW_US)


def buffer_of(first: int, prices: list[float], one_by_one: float | None = None) -> ColumnBuffer:
    """Rows taken from one poll (interleaved with another partition's: every other row), then
    optionally one row of the per-message path."""
    arrays = poll([changed(TRADE, price=p) for p in prices])
    buffer = ColumnBuffer(RecordType.TRADE)
    for row in range(0, len(prices), 2):
        buffer.take(arrays, row, KAFKA_MS, first + row)
    if one_by_one is not None:
        buffer.append(row_of(changed(TRADE, price=one_by_one)), KAFKA_MS, first + len(prices))
    return buffer


def prices(buffer: ColumnBuffer) -> list[float]:
    return buffer.columns(0, NOW_US)[column_names(RecordType.TRADE).index("price")]


def test_taken_and_appended_rows_keep_their_order_offsets_and_values() -> None:
    buffer = buffer_of(10, [1.0, 2.0, 3.0, 4.0, 5.0], one_by_one=6.0)
    assert len(buffer) == 4 and buffer.offsets == [10, 12, 14, 15]
    assert prices(buffer) == [1.0, 3.0, 5.0, 6.0]
    assert buffer.event_times_us().tolist() == [NOW_US] * 4
    assert buffer.wire(1)["price"] == 3.0 and buffer.wire(3)["price"] == 6.0
    assert buffer.wire(0)["conditions"] == ["@"]
    table = buffer.arrow(3, NOW_US, 1, 3)
    assert table.column("kafka_offset").to_pylist() == [12, 14]
    assert table.column("kafka_partition").to_pylist() == [3, 3]


def test_extend_appends_the_other_buffers_rows_in_order_and_leaves_it_as_it_was() -> None:
    mine, other = buffer_of(0, [1.0, 2.0, 3.0]), buffer_of(100, [7.0, 8.0, 9.0], one_by_one=10.0)
    mine.extend(other)
    assert mine.offsets == [0, 2, 100, 102, 103]
    assert list(mine.kafka_time_ms) == [KAFKA_MS] * 5
    assert prices(mine) == [1.0, 3.0, 7.0, 9.0, 10.0]
    assert mine.wire(4)["price"] == 10.0 and mine.wire(1)["price"] == 3.0
    assert prices(other) == [7.0, 9.0, 10.0] and other.offsets == [100, 102, 103]
    mine.append(row_of(changed(TRADE, price=11.0)), KAFKA_MS, 104)
    assert prices(mine)[-2:] == [10.0, 11.0] and len(mine) == 6


def test_extend_refuses_another_record_type() -> None:
    with pytest.raises(ValueError, match="trade buffer with quote rows"):
        ColumnBuffer(RecordType.TRADE).extend(ColumnBuffer(RecordType.QUOTE))


def test_an_empty_buffer_is_an_empty_table_of_every_column() -> None:
    table = ColumnBuffer(RecordType.BAR).arrow(0, NOW_US)
    assert table.num_rows == 0 and table.schema.names == list(column_names(RecordType.BAR))


@pytest.mark.parametrize(
    ("clickhouse", "arrow"),
    [
        ("LowCardinality(String)", pa.dictionary(pa.int32(), pa.string())),
        ("Array(LowCardinality(String))", pa.list_(pa.dictionary(pa.int32(), pa.string()))),
        ("DateTime64(6, 'UTC')", pa.timestamp("us", tz="UTC")),
        ("DateTime64(3, 'UTC')", pa.timestamp("ms", tz="UTC")),
        ("UInt8", pa.uint8()), ("UInt16", pa.uint16()), ("UInt32", pa.uint32()),
        ("UInt64", pa.uint64()), ("Float64", pa.float64()), ("String", pa.string()),
    ],
)  # fmt: skip
def test_clickhouse_types_map_to_the_arrow_types_read_without_loss(
    clickhouse: str, arrow: pa.DataType
) -> None:
    assert arrow_type(clickhouse) == arrow


@pytest.mark.parametrize("clickhouse", ["Decimal(18, 4)", "DateTime64(5)", "Nullable(String)"])
def test_a_type_without_a_lossless_mapping_is_fatal_and_names_the_column(clickhouse: str) -> None:
    with pytest.raises(ArrowSchemaError, match=r"market\.trades\.x: .*" + clickhouse[:6]):
        schema("market.trades", ["x"], [clickhouse])


def test_a_value_out_of_its_columns_range_is_a_rejection_naming_the_column() -> None:
    target = schema("market.quotes", ["lot_size"], ["UInt32"])
    fits = pa.table({"lot_size": pa.array([2**32 - 1], pa.int64())})
    assert for_table(fits, target, "market.quotes").column(0).to_pylist() == [2**32 - 1]
    over = pa.table({"lot_size": pa.array([1, 2**32], pa.int64())})
    with pytest.raises(InsertRejected) as caught:
        for_table(over, target, "market.quotes")
    assert caught.value.reason == OUT_OF_RANGE and "market.quotes.lot_size" in caught.value.detail


def test_a_cast_that_cannot_exist_is_fatal_not_a_rejection() -> None:
    target = schema("market.trades", ["price"], ["Float64"])
    with pytest.raises(ArrowSchemaError, match="price"):
        for_table(pa.table({"price": pa.array([[1.0]])}), target, "market.trades")


@pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"NaN", b"Infinity"])
def test_non_finite_numbers_never_reach_the_insert(number: bytes) -> None:
    value = changed(TRADE).replace(b'"price":189.5', b'"price":' + number)
    found = decode_poll([value], [KAFKA_MS], RecordType.TRADE, RULES, NOW_US)
    assert found.where == [-1]
    with pytest.raises(InvalidMessage):
        validate(decode(value), RecordType.TRADE, RULES, NOW_US)
