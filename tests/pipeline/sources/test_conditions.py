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


# Polygon's own recorded answer of GET /v3/reference/conditions?asset_class=stocks (the
# polygon-io/client-python test fixture, ids 1-10): id → (sip_mapping, consolidated rules as
# (updates_open_close, updates_high_low, updates_volume)).
POLYGON_DOCUMENTED = {
    1: ({"UTP": "A"}, (1, 1, 1)),  # Acquisition
    2: ({"CTA": "B", "UTP": "W"}, (0, 0, 1)),  # Average Price Trade (also the knowledge base)
    3: ({"CTA": "E"}, (1, 1, 1)),  # Automatic Execution
    4: ({"UTP": "B"}, (1, 1, 1)),  # Bunched Trade
    5: ({"UTP": "G"}, (0, 1, 1)),  # Bunched Sold Trade
    6: ({}, (1, 1, 1)),  # CAP Election (legacy; its old CTA letter I is the odd lot today)
    7: ({"CTA": "C", "UTP": "C"}, (0, 0, 1)),  # Cash Sale
    8: ({"UTP": "6"}, (1, 1, 1)),  # Closing Prints
    9: ({"CTA": "X", "UTP": "X"}, (1, 1, 1)),  # Cross Trade
    10: ({"CTA": "4", "UTP": "4"}, (0, 1, 1)),  # Derivatively Priced
}


@pytest.mark.parametrize(("cid", "documented"), POLYGON_DOCUMENTED.items())
def test_tables_agree_with_polygons_documented_update_rules(
    cid: int, documented: tuple[dict[str, str], tuple[int, int, int]]
) -> None:
    """Each documented id's rules, in the Polygon table and, through its sip_mapping, in the
    CTA/UTP letter tables Alpaca's codes are looked up in."""
    mapping, rules = documented
    expected = Eligibility(*rules)
    assert conditions.POLYGON[str(cid)] == expected
    for sip, letter in mapping.items():
        assert (conditions.CTA if sip == "CTA" else conditions.UTP)[letter] == expected, sip


@pytest.mark.parametrize(
    ("codes", "tape", "expected"),
    [
        (["@", "I"], "C", VOLUME_ONLY),  # odd lot: Alpaca's documented trade example verbatim
        (["@", "I"], "A", VOLUME_ONLY),  # odd lot on the CTA tape
        (["B"], "A", VOLUME_ONLY),  # CTA average price trade
        (["@", "P"], "A", Eligibility(0, 1, 1)),  # prior reference price: not last
        (["@", "P"], "C", Eligibility(0, 1, 1)),
        (["@", "T"], "C", VOLUME_ONLY),  # Form T / extended hours
        (["@", "U"], "A", VOLUME_ONLY),  # extended hours sold (out of sequence)
        (["4"], "B", Eligibility(0, 1, 1)),  # derivatively priced
        (["4"], "C", Eligibility(0, 1, 1)),
        (["@", "L"], "A", ALL),  # sold last (late but in sequence): eligible
        (["@", "Z"], "A", Eligibility(0, 1, 1)),  # sold out of sequence
        (["@", "F", "I"], "C", VOLUME_ONLY),  # ISO odd lot: the odd lot decides
    ],
)
def test_alpaca_documented_codes(codes: list[str], tape: str, expected: Eligibility) -> None:
    trade = alpaca_map.trade(ALPACA | {"c": codes, "z": tape}, RECV, AssetClass.EQUITY)
    assert Eligibility(trade.updates_open_close, trade.updates_high_low, trade.updates_volume) == (
        expected
    )


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        ([2], VOLUME_ONLY),  # average price (the knowledge-base sample)
        ([10], Eligibility(0, 1, 1)),  # derivatively priced
        ([32], Eligibility(0, 1, 1)),  # sold out of sequence (was missing: counted as regular)
        ([13], VOLUME_ONLY),  # extended hours, sold out of sequence
        ([30], ALL),  # sold last
        ([12, 37], VOLUME_ONLY),  # Form T odd lot
    ],
)
def test_polygon_documented_ids(codes: list[int], expected: Eligibility) -> None:
    trade = polygon_map.trade(POLYGON | {"c": codes}, RECV)
    assert Eligibility(trade.updates_open_close, trade.updates_high_low, trade.updates_volume) == (
        expected
    )
