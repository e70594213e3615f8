"""Validation of wire messages: one table of bad inputs, each with the reason it must give."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from pipeline.codec import (
    REASONS,
    Bar,
    Quote,
    RecordType,
    Trade,
    ValidationRules,
    checked_row,
    decode,
    to_wire,
    typed_row,
    validate,
)
from pipeline.errors import InvalidMessage
from tickwatch.settings import LoadSettings

NOW_US = 1_763_700_000_000_000
RULES = ValidationRules.from_settings(LoadSettings())
TRADE = to_wire(Trade("AAPL", NOW_US, 189.5, 100.0, exchange="V", conditions=("@",)))
QUOTE = to_wire(Quote("EUR/USD", NOW_US, 1.0841, 1e6, 1.0842, 2e6))
BAR = to_wire(Bar("BTC-USD", NOW_US, 60, 100.0, 110.0, 95.0, 105.0, 12.5, 101.0, 42))


def changed(base: dict[str, Any], **fields: Any) -> bytes:
    body = {**base, **fields}
    return orjson.dumps({k: v for k, v in body.items() if v is not _DROP})


_DROP = object()


def price_text(text: bytes) -> bytes:
    return orjson.dumps(TRADE).replace(b"189.5", text)


CASES: list[tuple[str, RecordType, bytes, str]] = [
    ("truncated JSON", RecordType.TRADE, orjson.dumps(TRADE)[:-3], "malformed_json"),
    ("not JSON", RecordType.TRADE, b"hello", "malformed_json"),
    ("empty value", RecordType.TRADE, b"", "malformed_json"),
    ("NaN literal", RecordType.TRADE, price_text(b"NaN"), "malformed_json"),
    ("Infinity literal", RecordType.TRADE, price_text(b"-Infinity"), "malformed_json"),
    ("overflowing number", RecordType.TRADE, price_text(b"1e999"), "malformed_json"),
    ("array", RecordType.TRADE, b"[1, 2]", "not_an_object"),
    ("missing v", RecordType.TRADE, changed(TRADE, v=_DROP), "missing_field"),
    ("schema v2", RecordType.TRADE, changed(TRADE, v=2), "schema_version"),
    ("schema v true", RecordType.TRADE, changed(TRADE, v=True), "schema_version"),
    ("quote on trade topic", RecordType.TRADE, orjson.dumps(QUOTE), "wrong_record_type"),
    ("missing type", RecordType.TRADE, changed(TRADE, type=_DROP), "wrong_record_type"),
    ("missing price", RecordType.TRADE, changed(TRADE, price=_DROP), "missing_field"),
    ("null size", RecordType.TRADE, changed(TRADE, size=None), "missing_field"),
    ("missing ts", RecordType.TRADE, changed(TRADE, ts=_DROP), "missing_field"),
    ("missing symbol", RecordType.TRADE, changed(TRADE, symbol=_DROP), "missing_field"),
    ("price as string", RecordType.TRADE, changed(TRADE, price="189.5"), "bad_field_type"),
    ("size as bool", RecordType.TRADE, changed(TRADE, size=True), "bad_field_type"),
    ("ts as float", RecordType.TRADE, changed(TRADE, ts=float(NOW_US)), "bad_field_type"),
    ("ts negative", RecordType.TRADE, changed(TRADE, ts=-1), "bad_field_type"),
    ("symbol as number", RecordType.TRADE, changed(TRADE, symbol=7), "bad_field_type"),
    ("conditions as string", RecordType.TRADE, changed(TRADE, conditions="@"), "bad_field_type"),
    ("unknown asset class", RecordType.TRADE, changed(TRADE, asset_class="bond"), "bad_field_type"),
    ("asset class as list", RecordType.TRADE, changed(TRADE, asset_class=[]), "bad_field_type"),
    ("conditions of numbers", RecordType.TRADE, changed(TRADE, conditions=[1]), "bad_field_type"),
    ("zero price", RecordType.TRADE, changed(TRADE, price=0), "bad_price"),
    ("negative price", RecordType.TRADE, changed(TRADE, price=-1.5), "bad_price"),
    ("negative size", RecordType.TRADE, changed(TRADE, size=-1), "negative_size"),
    ("far future", RecordType.TRADE, changed(TRADE, ts=NOW_US + 301_000_000), "in_future"),
    ("far past", RecordType.TRADE, changed(TRADE, ts=NOW_US - 8 * 86400 * 10**6), "too_old"),
    ("epoch zero", RecordType.TRADE, changed(TRADE, ts=0), "too_old"),
    ("ts in nanoseconds", RecordType.TRADE, changed(TRADE, ts=NOW_US * 1000), "in_future"),
    ("empty symbol", RecordType.TRADE, changed(TRADE, symbol=""), "bad_symbol"),
    ("10 kB symbol", RecordType.TRADE, changed(TRADE, symbol="A" * 10_240), "bad_symbol"),
    ("33-char symbol", RecordType.TRADE, changed(TRADE, symbol="A" * 33), "bad_symbol"),
    ("unicode symbol", RecordType.TRADE, changed(TRADE, symbol="ÄPPL"), "bad_symbol"),
    ("emoji symbol", RecordType.TRADE, changed(TRADE, symbol="🚀"), "bad_symbol"),
    ("lower-case symbol", RecordType.TRADE, changed(TRADE, symbol="aapl"), "bad_symbol"),
    ("symbol with space", RecordType.TRADE, changed(TRADE, symbol="AA PL"), "bad_symbol"),
    ("10 kB exchange", RecordType.TRADE, changed(TRADE, exchange="X" * 10_240), "bad_field_type"),
    ("crossed quote", RecordType.QUOTE, changed(QUOTE, bid_price=1.09), "crossed_quote"),
    ("quote zero ask", RecordType.QUOTE, changed(QUOTE, ask_price=0.0), "bad_price"),
    ("quote negative bid size", RecordType.QUOTE, changed(QUOTE, bid_size=-5), "negative_size"),
    ("quote missing ask", RecordType.QUOTE, changed(QUOTE, ask_price=_DROP), "missing_field"),
    ("bar high below close", RecordType.BAR, changed(BAR, high=104.0), "bad_ohlc"),
    ("bar low above open", RecordType.BAR, changed(BAR, low=100.5), "bad_ohlc"),
    ("bar zero interval", RecordType.BAR, changed(BAR, interval_s=0), "bad_ohlc"),
    ("bar negative volume", RecordType.BAR, changed(BAR, volume=-1.0), "negative_size"),
    ("bar float trade_count", RecordType.BAR, changed(BAR, trade_count=1.5), "bad_field_type"),
    ("bar missing close", RecordType.BAR, changed(BAR, close=_DROP), "missing_field"),
]  # fmt: skip

# Issue 12, finding 3: values the types allow but the columns, or common sense, do not.
CASES += [
    ("v as float", RecordType.TRADE, changed(TRADE, v=1.0), "schema_version"),
    ("negative zero size", RecordType.TRADE, changed(TRADE, size=-0.0), "negative_size"),
    ("quote negative zero size", RecordType.QUOTE, changed(QUOTE, ask_size=-0.0), "negative_size"),
    ("interval over UInt32", RecordType.BAR, changed(BAR, interval_s=2**32), "out_of_range"),
    ("NUL in exchange", RecordType.TRADE, changed(TRADE, exchange="V\u0000"), "control_character"),
    ("ESC in source", RecordType.TRADE, changed(TRADE, source="\u001b[31m"), "control_character"),
    ("CR in conditions", RecordType.TRADE, changed(TRADE, conditions=["@", "\r"]),
     "control_character"),
    ("NEL in trade_id", RecordType.TRADE, changed(TRADE, trade_id="1\u0085"), "control_character"),
    ("DEL in quote exchange", RecordType.QUOTE, changed(QUOTE, bid_exchange="\u007f"),
     "control_character"),
    ("TAB in bar source", RecordType.BAR, changed(BAR, source="a\tb"), "control_character"),
    ("recv_ts in nanoseconds", RecordType.TRADE, changed(TRADE, recv_ts=NOW_US * 1000),
     "in_future"),
    ("recv_ts at epoch 1", RecordType.TRADE, changed(TRADE, recv_ts=1), "too_old"),
    ("price 1e308", RecordType.TRADE, changed(TRADE, price=1e308), "implausible_price"),
    ("size 1e308", RecordType.TRADE, changed(TRADE, size=1e308), "implausible_size"),
    ("crypto price 1e9", RecordType.TRADE, changed(TRADE, asset_class="crypto", price=1e9),
     "implausible_price"),
    ("quote ask 1e308", RecordType.QUOTE, changed(QUOTE, ask_price=1e308), "implausible_price"),
    ("quote bid size 1e300", RecordType.QUOTE, changed(QUOTE, bid_size=1e300), "implausible_size"),
    ("bar volume 1e30", RecordType.BAR, changed(BAR, volume=1e30), "implausible_size"),
    ("bar vwap 1e308", RecordType.BAR, changed(BAR, vwap=1e308, high=1e308),
     "implausible_price"),
    # the columnar path accepted these (it had no flag rule): a 5 multiplied into candle sums
    ("flag 5", RecordType.TRADE, changed(TRADE, updates_volume=5), "bad_flag"),
    ("flag 300", RecordType.TRADE, changed(TRADE, updates_open_close=300), "bad_flag"),
]  # fmt: skip


def check(payload: bytes, kind: RecordType) -> list[Any]:
    return validate(decode(payload), kind, RULES, NOW_US)


@pytest.mark.parametrize(("kind", "payload", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_invalid_message_is_rejected_with_its_reason(
    kind: RecordType, payload: bytes, reason: str
) -> None:
    with pytest.raises(InvalidMessage) as caught:
        check(payload, kind)
    assert caught.value.reason == reason
    assert caught.value.reason in REASONS
    assert caught.value.detail


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        (RecordType.TRADE, TRADE, ["AAPL", "equity", NOW_US, 189.5, 100.0, "V", "", ["@"], "", "",
                                   "", 1, 1, 1, "", 0]),
        (RecordType.QUOTE, QUOTE, ["EUR/USD", "equity", NOW_US, 1.0841, 1e6, 1.0842, 2e6, "", "",
                                   [], "", "", "", 1, "", 0]),
        (RecordType.BAR, BAR, ["BTC-USD", "equity", NOW_US, 60, 100.0, 110.0, 95.0, 105.0, 12.5,
                               101.0, 42, "", "", 0]),
    ],
)  # fmt: skip
def test_valid_record_becomes_row_in_column_order(
    kind: RecordType, body: dict[str, Any], expected: list[Any]
) -> None:
    assert check(orjson.dumps(body), kind) == expected


@pytest.mark.parametrize(
    ("fields", "column", "value"),
    [
        ({"price": 189}, 3, 189.0),  # integers are accepted as prices
        ({"size": 0}, 4, 0.0),  # zero size (e.g. an odd-lot correction) is allowed
        ({"ts": NOW_US + 299_000_000}, 2, NOW_US + 299_000_000),
        ({"ts": NOW_US - 6 * 86400 * 10**6}, 2, NOW_US - 6 * 86400 * 10**6),
        ({"symbol": "BRK.B"}, 0, "BRK.B"),
        ({"symbol": "A" * 32}, 0, "A" * 32),
        ({"exchange": "Börse"}, 5, "Börse"),  # unicode outside the symbol is fine
        ({"extra_field": 1}, 0, "AAPL"),  # unknown fields are ignored (forward compatible)
        ({"recv_ts": NOW_US + 1}, -1, NOW_US + 1),  # recv_ts is always last
        ({"recv_ts": 0}, -1, 0),  # not given: the loader fills in the Kafka time
        ({"price": 1e7}, 3, 1e7),  # the equity bound itself
        ({"asset_class": "crypto", "price": 1e-8}, 3, 1e-8),
        ({"conditions": ["@", "F", "T"]}, 7, ["@", "F", "T"]),
    ],
)
def test_boundary_values_are_accepted(fields: dict[str, Any], column: int, value: Any) -> None:
    assert check(changed(TRADE, **fields), RecordType.TRADE)[column] == value


def test_symbol_pattern_comes_from_settings() -> None:
    rules = ValidationRules(RULES.max_past_us, RULES.max_future_us, re.compile(r"^[a-z]+$"))
    assert validate(decode(changed(TRADE, symbol="aapl")), RecordType.TRADE, rules, NOW_US)
    with pytest.raises(InvalidMessage, match="bad_symbol"):
        validate(decode(orjson.dumps(TRADE)), RecordType.TRADE, rules, NOW_US)


def test_equal_bid_and_ask_is_not_crossed() -> None:
    assert check(changed(QUOTE, bid_price=1.0842), RecordType.QUOTE)[3] == 1.0842


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_decoded_by_other_means_are_rejected(value: float) -> None:
    with pytest.raises(InvalidMessage) as caught:
        validate({**TRADE, "price": value}, RecordType.TRADE, RULES, NOW_US)
    assert caught.value.reason == "non_finite"


@pytest.mark.parametrize(("kind", "payload"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_fast_path_never_accepts_what_the_field_checks_reject(
    kind: RecordType, payload: bytes
) -> None:
    try:
        body = decode(payload)
    except InvalidMessage:
        return  # not a JSON object: neither path sees it
    try:
        checked_row(body, kind)
    except InvalidMessage:
        assert typed_row(body, kind) is None


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (RecordType.TRADE, TRADE),
        (RecordType.TRADE, {k: v for k, v in TRADE.items() if k not in ("conditions", "exchange")}),
        (RecordType.QUOTE, QUOTE),
        (RecordType.BAR, BAR),
        (RecordType.BAR, {k: v for k, v in BAR.items() if k not in ("vwap", "trade_count")}),
    ],
)
def test_fast_path_gives_the_same_row_as_the_field_checks(
    kind: RecordType, body: dict[str, Any]
) -> None:
    assert typed_row(body, kind) == checked_row(body, kind)
    assert (
        typed_row({**body, "price": 5, "bid_price": 5, "open": 5}, kind) is None
    )  # int: slow path


def test_sanity_bounds_come_from_settings() -> None:
    rules = ValidationRules.from_settings(LoadSettings(equity_max_price=100.0))
    with pytest.raises(InvalidMessage, match="implausible_price"):
        validate(decode(orjson.dumps(TRADE)), RecordType.TRADE, rules, NOW_US)
    assert validate(decode(changed(TRADE, price=99.5)), RecordType.TRADE, rules, NOW_US)


def test_control_character_detail_names_the_field_and_position() -> None:
    with pytest.raises(InvalidMessage) as caught:
        check(changed(TRADE, trade_id="ab\u0000"), RecordType.TRADE)
    assert caught.value.detail == "field 'trade_id' has U+0000 at 2"
