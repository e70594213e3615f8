"""Candles honour the documented trade conditions, against the real ClickHouse: trades mapped
from Alpaca's and Polygon's documented message formats with specific codes (odd lot, average
price, prior reference price, Form T, derivatively priced, out of sequence) set exactly the
candle fields the vendors' tables allow."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver.client import Client

from pipeline.codec import AssetClass, RecordType, Trade
from pipeline.load.insert import ClickHouseWriter
from pipeline.sources.live import alpaca_map, polygon_map

from .corrections_reference import reference_candles
from .test_corrections_clickhouse import NOW_US, assert_candles_match, batch_of, stored, writer

__all__ = ["writer"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.clickhouse

SECOND_US = (NOW_US // 10**6) * 10**6
RECV = SECOND_US + 900_000


def alpaca(i: int, price: float, size: int, codes: list[str], tape: str = "C") -> Trade:
    """Alpaca's documented trade example with our price, size, codes and time."""
    ts = SECOND_US + i * 1000
    when = datetime.fromtimestamp(ts // 10**6, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    msg = {"T": "t", "S": "AAPL", "i": 96921 + i, "x": "D", "p": price, "s": size, "c": codes,
           "z": tape, "t": f"{when}.{ts % 10**6:06d}Z"}  # fmt: skip
    return alpaca_map.trade(msg, RECV, AssetClass.EQUITY)


def polygon(i: int, price: float, size: int, codes: list[int]) -> Trade:
    """Polygon's documented stocks trade example with our price, size, codes and time."""
    msg = {"ev": "T", "sym": "MSFT", "x": 4, "i": str(5000 + i), "z": 3, "p": price, "s": size,
           "c": codes, "t": SECOND_US // 1000 + i}  # fmt: skip
    return polygon_map.trade(msg, RECV)


def test_documented_conditions_set_only_the_fields_they_allow(
    writer: ClickHouseWriter, ch_client: Client
) -> None:
    ticks = [
        alpaca(0, 101.00, 3, ["@", "I"]),  # odd lot first: not the open
        alpaca(1, 100.00, 100, ["@"]),  # the open
        alpaca(2, 150.00, 200, ["@", "B"], tape="A"),  # average price: volume only, not high
        alpaca(3, 99.50, 100, ["@", "P"]),  # prior reference price: the low, not the close
        alpaca(4, 120.00, 50, ["@", "4"]),  # derivatively priced: the high, not the close
        alpaca(5, 100.25, 100, ["@", "F"]),  # the close
        alpaca(6, 90.00, 100, ["@", "T"]),  # Form T: volume only
        alpaca(7, 80.00, 100, ["@", "Z"]),  # sold out of sequence: low, not close
        polygon(0, 50.00, 100, [37]),  # odd lot: volume only, not the low
        polygon(1, 51.00, 100, [0]),  # regular: open, close
        polygon(2, 60.00, 100, [32]),  # sold out of sequence: high only
        polygon(3, 40.00, 100, [2]),  # average price: volume only
    ]
    writer.write(batch_of(ticks, RecordType.TRADE, 0))
    got = stored(ch_client, "candles_1s")
    bucket = SECOND_US // 10**6
    # open, high, low, close, volume (vwap and trade_count are checked by the reference below)
    assert got[("AAPL", bucket)][:5] == (100.00, 120.00, 80.00, 100.25, 753.0)
    assert got[("MSFT", bucket)][:5] == (51.00, 60.00, 51.00, 51.00, 400.0)
    assert got.keys() == reference_candles(ticks, 10**6).keys()
    assert_candles_match(ch_client, ticks)
