"""Trade conditions → candle eligibility, from samples in the vendors' documented formats."""

from __future__ import annotations

import pytest

from pipeline.codec import AssetClass
from pipeline.sources import conditions
from pipeline.sources.conditions import ALL, Eligibility
from pipeline.sources.live import alpaca_map, polygon_map

RECV = 1763700000123456
VOLUME_ONLY = Eligibility(open_close=0, high_low=0, volume=1)
NOTHING = Eligibility(0, 0, 0)
ALPACA = {"T": "t", "S": "AAPL", "i": 96921, "x": "D", "p": 126.55, "s": 1, "c": ["@"],
          "z": "C", "t": "2021-02-22T15:51:44.208Z"}  # fmt: skip
POLYGON = {"ev": "T", "sym": "MSFT", "x": 4, "i": "12345", "z": 3, "p": 114.125, "s": 100,
           "c": [0], "t": 1536036818784}  # fmt: skip


@pytest.mark.parametrize(
    ("codes", "tape", "expected"),
    [
        (["@"], "C", ALL),  # regular sale
        ([" ", "F"], "A", ALL),  # Alpaca's blank slot + intermarket sweep
        (["@", "I"], "C", VOLUME_ONLY),  # odd lot
        (["@", "T"], "B", VOLUME_ONLY),  # extended hours (Form T)
        (["@", "Z"], "C", Eligibility(0, 1, 1)),  # sold out of sequence: not last
        (["M"], "A", NOTHING),  # market center official close: informational
        (["9"], "C", Eligibility(1, 1, 0)),  # corrected consolidated close: no volume
        (["W"], "C", VOLUME_ONLY),  # UTP average price
        (["W"], "A", ALL),  # W is not a CTA condition: unknown codes leave it eligible
        (["I"], "", ALL),  # no tape (IEX feed, crypto): no SIP table applies
    ],
)
def test_alpaca_conditions_follow_the_tape_table(
    codes: list[str], tape: str, expected: Eligibility
) -> None:
    trade = alpaca_map.trade(ALPACA | {"c": codes, "z": tape}, RECV, AssetClass.EQUITY)
    got = Eligibility(trade.updates_open_close, trade.updates_high_low, trade.updates_volume)
    assert (got, trade.tape) == (expected, tape)


def test_alpaca_crypto_taker_side_is_not_a_condition_table() -> None:
    msg = {"T": "t", "S": "BTC/USD", "p": 61000.5, "s": 0.0042, "i": 7, "tks": "S",
           "t": "2024-03-12T10:27:48.858228144Z"}  # fmt: skip
    trade = alpaca_map.trade(msg, RECV, AssetClass.CRYPTO)
    assert (trade.updates_open_close, trade.updates_high_low, trade.updates_volume) == (1, 1, 1)


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([0], ALL),
        ([14, 41], ALL),  # intermarket sweep, trade-through exempt
        ([37], VOLUME_ONLY),  # odd lot
        ([12], VOLUME_ONLY),  # Form T
        ([15], NOTHING),  # market center official close
        ([22], Eligibility(0, 1, 1)),  # prior reference price
        ([38], Eligibility(1, 1, 0)),  # corrected consolidated close
        ([14, 37], VOLUME_ONLY),  # every condition must allow the field
    ],
)
def test_polygon_condition_ids_follow_update_rules(codes: list[int], expected: Eligibility) -> None:
    trade = polygon_map.trade(POLYGON | {"c": codes}, RECV)
    got = Eligibility(trade.updates_open_close, trade.updates_high_low, trade.updates_volume)
    assert got == expected and trade.tape == "C"


def test_polygon_crypto_sides_keep_every_trade_eligible() -> None:
    msg = {"ev": "XT", "pair": "BTC-USD", "p": 33021.9, "t": 1610462007425, "s": 0.01,
           "c": [1], "i": "1", "x": 1}  # fmt: skip
    trade = polygon_map.trade(msg, RECV)
    assert (trade.updates_open_close, trade.updates_high_low, trade.updates_volume) == (1, 1, 1)


def test_tables_name_only_three_flag_values() -> None:
    for table in (conditions.CTA, conditions.UTP, conditions.POLYGON):
        for rule in table.values():
            assert {rule.open_close, rule.high_low, rule.volume} <= {0, 1}
    assert conditions.eligibility([], conditions.CTA) == ALL
