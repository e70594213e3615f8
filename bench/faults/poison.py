"""Poison messages: 30+ kinds of input the load worker must dead-letter with a reason.

Each kind is a (record type of the topic it goes to, key, value) built around a valid record
stamped ``now``; the value is what a broken producer, a hostile client or a bug upstream would
send. :func:`kinds` is deterministic for a given ``now`` (the oversize one too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.codec import RecordType

OVERSIZE_BYTES = 900_000  # under the broker's 1 MB message limit, over the DLQ payload bound


@dataclass(frozen=True)
class Poison:
    """One bad message: its kind, the record type of the topic it is produced to, key, value."""

    kind: str
    topic_kind: RecordType
    key: bytes
    value: bytes | None


def trade(now_us: int, **changes: Any) -> dict[str, Any]:
    """A valid wire-format trade at ``now_us`` with ``changes`` applied (None removes a key)."""
    body: dict[str, Any] = {
        "v": 1, "type": "trade", "symbol": "POISON", "asset_class": "equity", "ts": now_us,
        "price": 101.5, "size": 10.0, "exchange": "XNAS", "trade_id": "p-1",
        "conditions": ["@"], "source": "faults", "recv_ts": now_us,
    }  # fmt: skip
    return _apply(body, changes)


def quote(now_us: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "v": 1, "type": "quote", "symbol": "POISON", "asset_class": "equity", "ts": now_us,
        "bid_price": 100.0, "bid_size": 5.0, "ask_price": 100.5, "ask_size": 7.0,
        "bid_exchange": "XNAS", "ask_exchange": "XNAS", "conditions": [], "source": "faults",
        "recv_ts": now_us,
    }  # fmt: skip
    return _apply(body, changes)


def bar(now_us: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "v": 1, "type": "bar", "symbol": "POISON", "asset_class": "equity", "ts": now_us,
        "interval_s": 60, "open": 10.0, "high": 11.0, "low": 9.5, "close": 10.5,
        "volume": 1000.0, "vwap": 10.2, "trade_count": 12, "source": "faults", "recv_ts": now_us,
    }  # fmt: skip
    return _apply(body, changes)


def _apply(body: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    return body


def _json(body: object) -> bytes:
    return orjson.dumps(body)


def _huge_ts(now_us: int) -> bytes:
    """A trade whose ``ts`` is 10**22 (no 64-bit integer holds it; orjson cannot write it)."""
    return _json(trade(now_us)).replace(b'"ts":%d' % now_us, b'"ts":1' + b"0" * 22)


T, Q, B = RecordType.TRADE, RecordType.QUOTE, RecordType.BAR
_Builder = Callable[[int], tuple[RecordType, bytes | None]]

_KINDS: dict[str, _Builder] = {
    # malformed bytes
    "truncated_json": lambda n: (T, _json(trade(n))[:-9]),
    "not_json_html": lambda n: (T, b"<html>502 Bad Gateway</html>"),
    "binary_garbage": lambda n: (T, bytes(range(256))),
    "empty_value": lambda n: (T, b""),
    "tombstone": lambda n: (T, None),
    "json_array": lambda n: (T, _json([trade(n)])),
    "json_scalar": lambda n: (T, b'"trade"'),
    "nan_literal": lambda n: (T, _json(trade(n)).replace(b'"price":101.5', b'"price":NaN')),
    "invalid_utf8": lambda n: (T, _json(trade(n)).replace(b"XNAS", b"X\xc3\x28S")),
    # schema: version, type, topic
    "wrong_version": lambda n: (T, _json(trade(n, v=99))),
    "version_as_string": lambda n: (T, _json(trade(n, v="1"))),
    "version_as_float": lambda n: (T, _json(trade(n, v=1.0))),
    "quote_on_trades_topic": lambda n: (T, _json(quote(n))),
    "trade_on_bars_topic": lambda n: (B, _json(trade(n))),
    # missing fields and wrong types
    "missing_symbol": lambda n: (T, _json(trade(n, symbol=None))),
    "missing_price": lambda n: (T, _json(trade(n, price=None))),
    "price_as_text": lambda n: (T, _json(trade(n, price="101.5 USD"))),
    "price_as_bool": lambda n: (T, _json(trade(n, price=True))),
    "price_null": lambda n: (T, _json(trade(n)).replace(b'"price":101.5', b'"price":null')),
    "conditions_not_a_list": lambda n: (T, _json(trade(n, conditions="@"))),
    "unknown_asset_class": lambda n: (T, _json(trade(n, asset_class="bond"))),
    # values the columns or the domain cannot hold
    "negative_price": lambda n: (T, _json(trade(n, price=-101.5))),
    "zero_price": lambda n: (T, _json(trade(n, price=0.0))),
    "negative_size": lambda n: (T, _json(trade(n, size=-1.0))),
    "negative_zero_size": lambda n: (T, _json(trade(n, size=-0.0))),
    "absurd_price_1e308": lambda n: (T, _json(trade(n, price=1e308, size=1e308))),
    "absurd_size_1e20": lambda n: (T, _json(trade(n, size=1e20))),
    "ts_in_nanoseconds": lambda n: (T, _json(trade(n, ts=n * 1000))),
    "ts_epoch_zero": lambda n: (T, _json(trade(n, ts=0))),
    "ts_beyond_int64": lambda n: (T, _huge_ts(n)),
    "recv_ts_in_nanoseconds": lambda n: (T, _json(trade(n, recv_ts=n * 1000))),
    "interval_beyond_uint32": lambda n: (B, _json(bar(n, interval_s=2**33))),
    "trade_count_negative": lambda n: (B, _json(bar(n, trade_count=-1))),
    "crossed_quote": lambda n: (Q, _json(quote(n, bid_price=101.0, ask_price=100.0))),
    # strings
    "nul_in_exchange": lambda n: (T, _json(trade(n, exchange="XN\x00AS"))),
    "esc_in_source": lambda n: (T, _json(trade(n, source="faults\x1b[31m"))),
    "newline_in_condition": lambda n: (T, _json(trade(n, conditions=["@\r\nBcc: x"]))),
    "lowercase_symbol": lambda n: (T, _json(trade(n, symbol="aapl'; DROP TABLE trades"))),
    "symbol_too_long": lambda n: (T, _json(trade(n, symbol="A" * 200))),
    "oversize_900kb": lambda n: (T, _json(trade(n, trade_id="x" * OVERSIZE_BYTES))),
}


def kinds(now_us: int) -> list[Poison]:
    """Every poison kind, stamped ``now_us``, in a fixed order."""
    out = []
    for name, build in _KINDS.items():
        topic_kind, value = build(now_us)
        out.append(Poison(name, topic_kind, b"POISON", value))
    return out


NAMES = tuple(_KINDS)
