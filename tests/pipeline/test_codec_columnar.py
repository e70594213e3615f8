"""The columnar path of a whole poll against the per-message path, message by message.

:func:`pipeline.codec.columnar.decode_poll` must never accept what ``decode`` + ``validate``
reject, and must produce their row for every message it accepts; what it does not accept is
handed to the per-message path, which names the reason.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pyarrow.compute as pc
import pytest

from pipeline.codec import RecordType, decode, validate
from pipeline.codec.columnar import COLUMNAR_KINDS, ParsedText, decode_poll
from pipeline.errors import InvalidMessage
from tests.pipeline.test_validation import BAR, CASES, NOW_US, QUOTE, RULES, TRADE, changed

GOOD = {RecordType.TRADE: TRADE, RecordType.QUOTE: QUOTE, RecordType.BAR: BAR}
KAFKA_MS = NOW_US // 1000 - 5


def per_message(value: bytes, kind: RecordType) -> list[Any] | None:
    try:
        row = validate(decode(value), kind, RULES, NOW_US)
    except InvalidMessage:
        return None
    if row[-1] == 0:
        row[-1] = KAFKA_MS * 1000
    return row


def columnar(values: list[bytes], kind: RecordType) -> list[list[Any] | None]:
    poll = decode_poll(list(values), [KAFKA_MS] * len(values), kind, RULES, NOW_US)
    rows = [list(r) for r in zip(*poll.columns, strict=True)] if poll.columns[0] else []
    return [rows[i] if i >= 0 else None for i in poll.where]


def assert_agrees(values: list[bytes], kind: RecordType) -> list[list[Any] | None]:
    found = columnar(values, kind)
    for value, row in zip(values, found, strict=True):
        if row is not None:  # accepted here: the per-message path gives the very same row
            assert row == per_message(value, kind), value
    return found


@pytest.mark.parametrize(("kind", "payload"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_a_rejected_message_among_good_ones_is_left_to_the_per_message_path(
    kind: RecordType, payload: bytes
) -> None:
    good = orjson.dumps(GOOD[kind])
    found = assert_agrees([good] * 9 + [payload] + [good] * 9, kind)
    assert found[9] is None
    assert all(row is not None for i, row in enumerate(found) if i != 9)


def test_every_rejected_case_in_one_poll() -> None:
    for kind in COLUMNAR_KINDS:
        bad = [c[2] for c in CASES if c[1] is kind]
        good = orjson.dumps(GOOD[kind])
        values = [v for b in bad for v in (good, b)]
        found = assert_agrees(values, kind)
        assert [row is None for row in found] == [i % 2 == 1 for i in range(len(values))]


@pytest.mark.parametrize(
    "fields",
    [
        {"price": 189}, {"size": 0}, {"ts": NOW_US + 299_000_000}, {"symbol": "BRK.B"},
        {"symbol": "A" * 32}, {"exchange": "Börse"}, {"extra_field": 1}, {"recv_ts": NOW_US + 1},
        {"recv_ts": 0}, {"price": 1e7}, {"asset_class": "crypto", "price": 1e-8},
        {"conditions": ["@", "F", "T"]}, {"conditions": []}, {"price": 0.1 + 0.2},
    ],
)  # fmt: skip
def test_accepted_values_are_the_per_message_paths(fields: dict[str, Any]) -> None:
    values = [changed(TRADE, **fields)] * 3
    assert assert_agrees(values, RecordType.TRADE) == [per_message(values[0], RecordType.TRADE)] * 3


def test_missing_optional_fields_take_their_defaults() -> None:
    body = {k: v for k, v in BAR.items() if k not in ("vwap", "trade_count", "source", "recv_ts")}
    found = assert_agrees([orjson.dumps(body)] * 4, RecordType.BAR)
    assert all(row is not None for row in found)


def test_an_explicit_null_goes_to_the_per_message_path() -> None:
    values = [orjson.dumps(TRADE), changed(TRADE, exchange=None), orjson.dumps(TRADE)]
    assert [r is None for r in assert_agrees(values, RecordType.TRADE)] == [False, True, False]


def test_two_objects_or_an_empty_value_cannot_shift_the_rows() -> None:
    good = orjson.dumps(TRADE)
    two = good + b"\n" + changed(TRADE, price=1.0)
    values = [good, two, b"", good, good, b"  ", good, good, good]
    found = assert_agrees(values, RecordType.TRADE)
    assert found[1] is None and found[2] is None and found[5] is None


def test_random_polls_agree_with_the_per_message_path() -> None:
    rnd = random.Random(7)
    for kind in COLUMNAR_KINDS:
        bad = [c[2] for c in CASES if c[1] is kind]
        values = []
        for i in range(400):
            if rnd.random() < 0.05:
                values.append(rnd.choice(bad))
            else:
                body = dict(GOOD[kind])
                for name, value in body.items():
                    if type(value) is float:
                        body[name] = value * (1 + rnd.random() / 1000)
                if kind is RecordType.BAR:
                    body["high"], body["low"] = 1e3, 1.0
                if kind is RecordType.QUOTE:
                    body["ask_price"] = body["bid_price"] + 0.01
                body["symbol"] = rnd.choice(["AAPL", "MSFT", "BRK.B"]) + "X" * (i % 3)
                values.append(orjson.dumps(body))
        found = assert_agrees(values, kind)
        expected = [per_message(v, kind) is not None for v in values]
        assert sum(r is not None for r in found) >= sum(expected) - 20 * 8  # few fall back


@pytest.mark.parametrize("byte", range(0x20))
def test_a_raw_control_byte_in_a_string_is_refused_by_the_reader(byte: int) -> None:
    """Pins what ParsedText.may_hold_controls relies on: below 0x20 only an escape gets in."""
    good = orjson.dumps(TRADE)
    raw = good.replace(b'"source":"', b'"source":"a' + bytes([byte]), 1)
    if byte == 0x0A:  # a raw newline splits the value: never joined
        raw = raw.replace(b"\n", b"\r")
    found = assert_agrees([good] * 5 + [raw] + [good] * 5, RecordType.TRADE)
    assert found[5] is None and per_message(raw, RecordType.TRADE) is None
    assert all(row is not None for i, row in enumerate(found) if i != 5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(b'{"a":"plain"}', False), (b'{"a":"t\\tb"}', True), (b'{"a":"\x7f"}', True),
     ('{"a":"\u0085"}'.encode(), True), ('{"a":"B\u00f6rse"}'.encode(), False)],
)  # fmt: skip
def test_only_text_that_may_hold_a_control_character_is_searched(
    text: bytes, expected: bool
) -> None:
    assert ParsedText(text).may_hold_controls is expected


def test_nulls_are_looked_for_only_when_asked() -> None:
    assert ParsedText(b'{"a":1}').nulls_missing
    assert not ParsedText(b'{"a":null}').nulls_missing


def test_a_poll_without_suspicious_bytes_runs_no_control_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    search = pc.match_substring_regex

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return search(*args, **kwargs)

    monkeypatch.setattr(pc, "match_substring_regex", counted)
    assert all(r is not None for r in assert_agrees([orjson.dumps(TRADE)] * 4, RecordType.TRADE))
    assert calls == []
    tab = changed(TRADE, source="a\tb")
    assert assert_agrees([orjson.dumps(TRADE)] * 3 + [tab], RecordType.TRADE)[3] is None
    assert calls
