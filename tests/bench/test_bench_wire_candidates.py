"""The floor scenario's candidate binary encodings (bench.wire_candidates): each gives back
exactly the Arrow table pyarrow's JSON reader gives for the same trades (the columnar decoder's
reader step), and refuses bytes that are not its layout. Pure: no Kafka."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from bench import candidate_topics
from bench import wire_candidates as wc
from bench.tape import TradeTape
from pipeline.codec import AssetClass, RecordType, Trade, encode_value
from pipeline.codec.columnar import read_joined

START_US = 1_700_000_000_000_000


def json_table(values: list[bytes]) -> pa.Table:
    """What the columnar decoder's reader makes of JSON v1 ``values``, less ``v`` and ``type``."""
    return read_joined(b"\n".join(values), RecordType.TRADE).drop_columns(["v", "type"])


def tape_values(count: int = 2_000) -> tuple[list[bytes], list[bytes]]:
    keys, values = next(TradeTape(count, seed=3, symbols=25, start_us=START_US).chunks())
    return keys, values


def odd_trades() -> list[bytes]:
    """Trades the tape never makes: non-ASCII text, a text past 127 bytes (a two-byte length),
    no conditions and several, every field set, defaults and extremes."""
    long = "é" * 200  # 400 bytes of UTF-8
    trades = [
        Trade("AAPL", START_US, 187.25, 100.0, exchange="XNAS", trade_id="1", conditions=()),
        Trade("BTC-USD", START_US + 1, 0.01, 0.0, AssetClass.CRYPTO, "Coinbase", "x" * 150,
              ("@", "F", "T", "I"), "BTC/USD", "XCBS", "", 0, 0, 1, "ünïcödé ✓", START_US + 9),
        Trade("EURUSD", START_US + 2, 1.0842, 1e6, AssetClass.FX, long, "", (long, ""),
              source="fx", recv_ts=0),
        Trade("MSFT", 2**62, 1e300, 5e-324, updates_volume=0, trade_id="-", conditions=("",)),
    ]  # fmt: skip
    return [encode_value(t) for t in trades]


def test_the_schema_is_the_json_reader_s_without_version_and_type() -> None:
    assert json_table(tape_values(10)[1]).schema == wc.SCHEMA


@pytest.mark.parametrize("values", [tape_values()[1], odd_trades()], ids=["tape", "odd"])
def test_per_tick_binary_round_trips_the_json_reader_s_table_exactly(values: list[bytes]) -> None:
    expected = json_table(values)
    encoded = wc.encode_rows(expected)
    assert len(encoded) == len(values) and {v[0] for v in encoded} == {wc.ROW_VERSION}
    assert {v[0] for v in values} == {ord("{")}  # so the first byte tells the two apart
    decoded = wc.decode_rows(encoded)
    assert decoded.schema == wc.SCHEMA
    assert decoded.equals(expected)
    assert decoded.to_pylist() == expected.to_pylist()


def test_per_tick_binary_decodes_any_split_of_a_poll_the_same() -> None:
    expected = json_table(odd_trades() + tape_values(50)[1])
    encoded = wc.encode_rows(expected)
    parts = [wc.decode_rows(encoded[:3]), wc.decode_rows(encoded[3:4]), wc.decode_rows(encoded[4:])]
    assert pa.concat_tables(parts).equals(expected)


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        (lambda v: v[:10], "shorter than the fixed part"),
        (lambda v: b"{" + v[1:], "not version 2"),
        (lambda v: v + b"\x00", "end at -1 bytes"),
        (lambda v: v[:-1], "end at \\+1 bytes|runs past the end"),
        (lambda v: v[: wc.FIXED.itemsize] + b"\x02\xff\xfe" + v[wc.FIXED.itemsize + 3 :],
         "not valid UTF-8"),
    ],
)  # fmt: skip
def test_per_tick_binary_refuses_what_is_not_its_layout_naming_the_message(
    broken: object, reason: str
) -> None:
    encoded = wc.encode_rows(json_table(tape_values(5)[1]))
    encoded[3] = broken(encoded[3])  # type: ignore[operator]
    with pytest.raises(wc.CandidateError, match=reason):
        wc.decode_rows(encoded)


def test_a_length_of_three_leb128_bytes_is_refused() -> None:
    encoded = wc.encode_rows(json_table(tape_values(1)[1]))[0]
    at = wc.FIXED.itemsize
    with pytest.raises(wc.CandidateError, match="three or more LEB128"):
        wc.decode_rows([encoded[:at] + b"\x80\x80\x01" + encoded[at + 1 :]])


@pytest.mark.parametrize("rows", [1, 17, 167])
def test_blocks_round_trip_each_partition_s_rows_in_order(rows: int) -> None:
    keys, values = tape_values()
    expected = json_table(values)
    where = [candidate_topics.partition_of(k, 6) for k in keys]
    made = list(wc.blocks(expected, where, rows))
    assert sum(n for _, _, n in made) == expected.num_rows
    assert all(0 < n <= rows for _, _, n in made)
    assert {b[0] for _, b, _ in made} == {0xFF}  # the IPC continuation marker, not "{"
    for partition in range(6):
        mine = [b for p, b, _ in made if p == partition]
        taken = expected.take(pa.array(np.flatnonzero(np.asarray(where) == partition)))
        assert wc.decode_blocks(mine).equals(taken)
    assert wc.decode_blocks([b for _, b, _ in made]).num_rows == expected.num_rows


def test_a_block_round_trips_the_odd_trades_exactly() -> None:
    expected = json_table(odd_trades())
    decoded = wc.decode_blocks([wc.encode_block(expected)])
    assert decoded.equals(expected) and decoded.to_pylist() == expected.to_pylist()


def test_a_message_that_is_not_a_block_is_refused_naming_it() -> None:
    table = json_table(tape_values(20)[1])
    good = wc.encode_block(table)
    with pytest.raises(wc.CandidateError, match="message 1: not an Arrow IPC stream"):
        wc.decode_blocks([good, good[: len(good) // 2]])
    other = pa.ipc.new_stream  # a stream of another schema (no version metadata)
    sink = pa.BufferOutputStream()
    with other(sink, table.schema) as writer:
        writer.write_table(table)
    with pytest.raises(wc.CandidateError, match="message 0: not a version"):
        wc.decode_blocks([sink.getvalue().to_pybytes()])


def test_a_block_is_the_ticks_of_one_ingest_read_for_one_partition() -> None:
    assert wc.block_rows(100_000, 6, 0.01) == 167
    assert wc.block_rows(10_000, 6, 0.01) == 17
    assert wc.block_rows(10, 6, 0.01) == 1


def test_a_length_past_the_poll_s_end_is_refused_not_an_index_error() -> None:
    encoded = wc.encode_rows(json_table(tape_values(2)[1]))
    at = wc.FIXED.itemsize
    encoded[1] = encoded[1][:at] + b"\xff\x7f" + encoded[1][at + 1 :]  # 16,383 bytes of symbol
    with pytest.raises(wc.CandidateError, match="runs past the end"):
        wc.decode_rows(encoded)


def test_a_block_with_invalid_utf8_is_refused() -> None:
    table = json_table(tape_values(2)[1])
    bad = pa.StringArray.from_buffers(
        2, pa.py_buffer(np.array([0, 2, 4], np.int32)), pa.py_buffer(b"\xff\xfeok")
    )
    broken = table.set_column(0, "symbol", bad)
    with pytest.raises(wc.CandidateError, match="not valid"):
        wc.decode_blocks([wc.encode_block(broken)])
