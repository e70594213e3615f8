"""The codec package: one statement of the fields, and the JSON v1 bytes unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from pipeline.codec import FIELDS, AssetClass, Bar, Quote, RecordType, Trade, encode_value
from pipeline.codec.spec import REQUIRED, spec_of

R = REQUIRED


def test_fields_derived_from_the_records_are_the_wire_spec_in_table_column_order() -> None:
    assert FIELDS[RecordType.TRADE] == (
        ("symbol", "symbol", R), ("asset_class", "asset", "equity"), ("ts", "time", R),
        ("price", "num", R), ("size", "num", R), ("exchange", "text", ""),
        ("trade_id", "text", ""), ("conditions", "texts", ()), ("source", "text", ""),
        ("recv_ts", "uint", 0),
    )  # fmt: skip
    assert FIELDS[RecordType.QUOTE] == (
        ("symbol", "symbol", R), ("asset_class", "asset", "equity"), ("ts", "time", R),
        ("bid_price", "num", R), ("bid_size", "num", R), ("ask_price", "num", R),
        ("ask_size", "num", R), ("bid_exchange", "text", ""), ("ask_exchange", "text", ""),
        ("conditions", "texts", ()), ("source", "text", ""), ("recv_ts", "uint", 0),
    )  # fmt: skip
    assert FIELDS[RecordType.BAR] == (
        ("symbol", "symbol", R), ("asset_class", "asset", "equity"), ("ts", "time", R),
        ("interval_s", "uint", R), ("open", "num", R), ("high", "num", R), ("low", "num", R),
        ("close", "num", R), ("volume", "num", R), ("vwap", "num", 0.0),
        ("trade_count", "uint", 0), ("source", "text", ""), ("recv_ts", "uint", 0),
    )  # fmt: skip


# Produced by the encoder before the codec package existed: the wire format, byte for byte.
GOLDEN = [
    (
        Trade("AAPL", 1763700000123456, 228.41, 100.0, exchange="V", trade_id="5298",
              conditions=("@",), source="simulator"),
        1763700000124001,
        b'{"symbol":"AAPL","ts":1763700000123456,"price":228.41,"size":100.0,'
        b'"asset_class":"equity","exchange":"V","trade_id":"5298","conditions":["@"],'
        b'"source":"simulator","recv_ts":1763700000124001,"v":1,"type":"trade"}',
    ),
    (
        Quote("BTC-USD", 1763700000200000, 97012.5, 0.4, 97013.0, 1.2,
              asset_class=AssetClass.CRYPTO, bid_exchange="CBSE", ask_exchange="CBSE",
              source="coinbase", recv_ts=1763700000200950),
        0,
        b'{"symbol":"BTC-USD","ts":1763700000200000,"bid_price":97012.5,"bid_size":0.4,'
        b'"ask_price":97013.0,"ask_size":1.2,"asset_class":"crypto","bid_exchange":"CBSE",'
        b'"ask_exchange":"CBSE","conditions":[],"source":"coinbase",'
        b'"recv_ts":1763700000200950,"v":1,"type":"quote"}',
    ),
    (
        Bar("SPY", 1763699940000000, 60, 601.2, 601.9, 601.0, 601.7, 81234.0, 601.52, 512,
            asset_class=AssetClass.ETF, source="alpaca", recv_ts=1763700000310000),
        0,
        b'{"symbol":"SPY","ts":1763699940000000,"interval_s":60,"open":601.2,"high":601.9,'
        b'"low":601.0,"close":601.7,"volume":81234.0,"vwap":601.52,"trade_count":512,'
        b'"asset_class":"etf","source":"alpaca","recv_ts":1763700000310000,"v":1,"type":"bar"}',
    ),
]  # fmt: skip


@pytest.mark.parametrize(("record", "recv_ts", "wire"), GOLDEN)
def test_json_v1_bytes_are_unchanged(
    record: Trade | Quote | Bar, recv_ts: int, wire: bytes
) -> None:
    assert encode_value(record, recv_ts) == wire


def test_a_new_field_is_one_line_in_the_dataclass() -> None:
    @dataclass(frozen=True, slots=True)
    class TradeWithVenue:
        symbol: str
        ts: int
        price: float
        size: float
        asset_class: AssetClass = AssetClass.EQUITY
        venue: str = ""
        recv_ts: int = 0
        kind: ClassVar[RecordType] = RecordType.TRADE

    spec = spec_of(TradeWithVenue)
    assert spec[-2:] == (("venue", "text", ""), ("recv_ts", "uint", 0))  # recv_ts stays last


def test_a_field_of_a_type_the_wire_cannot_carry_is_refused() -> None:
    @dataclass
    class Odd:
        symbol: str
        ts: int
        asset_class: AssetClass
        recv_ts: int
        when: complex

    with pytest.raises(TypeError, match=r"Odd\.when"):
        spec_of(Odd)
