"""The columnar path: a whole poll of one record type decoded and validated at once.

:func:`decode_poll` joins the message values with newlines, parses them with pyarrow's JSON
reader against the schema derived from :data:`pipeline.codec.spec.FIELDS`, and checks every rule
of :func:`pipeline.codec.validate.validate` on whole columns (numpy / Arrow compute). It returns
the accepted rows as Arrow arrays (the form the insert sends, :mod:`pipeline.load.tables`), and for
every message either its row number in those arrays or ``-1``: a message it did not accept
outright. The caller runs the per-message path (:func:`~pipeline.codec.decode.decode` +
:func:`~pipeline.codec.validate.validate`) on those, which names the reason (or accepts a value
this path is too strict for, such as an explicit ``null`` for an optional field). Like
:mod:`pipeline.codec.fast`, it never accepts what the per-message path rejects, and the values it
accepts are the ones the per-message path produces (a test compares the two on every reason).

Why each shortcut is safe:

* The reader is strict: a wrong JSON type, a duplicate key, a non-integer for an integer field,
  invalid UTF-8 or a lone surrogate raises for the whole block, which is then split in halves
  until the bad messages are alone (``-1``). A block whose row count differs from its message
  count (an empty value, two objects in one value) is split the same way; values holding a line
  break are never joined.
* The reader cannot tell a missing field from ``null``: nulls are read as "missing" (the
  default) only when no value in the block contains the bytes ``null``; otherwise a row with a
  null goes to the per-message path.
* Values holding a ``\\u`` escape go to the per-message path (control characters, surrogates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from pipeline.codec.records import SCHEMA_VERSION, RecordType
from pipeline.codec.spec import ASSET_CLASSES, FIELDS, REQUIRED, SYMBOL_MAX_LEN, TEXT_MAX_LEN
from pipeline.codec.validate import BAR_VOLUME_TRADES, UINT32_MAX, ValidationRules

__all__ = ["PollColumns", "arrow_types", "decode_poll", "read_joined"]

_ARROW = {
    "num": pa.float64(),
    "uint": pa.int64(),
    "time": pa.int64(),
    "text": pa.string(),
    "symbol": pa.string(),
    "asset": pa.string(),
    "texts": pa.list_(pa.string()),
}
_CONTROL = "[\\x{00}-\\x{1f}\\x{7f}-\\x{9f}]"
SPLIT_BELOW = 2  # a failing block is split until each culprit is alone
_NEWLINE = 10


@dataclass(frozen=True, slots=True)
class PollColumns:
    """Accepted rows as Arrow arrays in :data:`FIELDS` order (types: :func:`arrow_types`), and
    for each message its row in them or -1 (not accepted here: run the per-message path)."""

    arrays: list[pa.Array]
    where: list[int]

    @property
    def columns(self) -> list[list[Any]]:
        """The accepted rows as Python lists, one per field (tests, the bench's tools)."""
        return [array.to_pylist() for array in self.arrays]


def arrow_types(kind: RecordType) -> list[pa.DataType]:
    """The Arrow type of each field of ``kind`` as decoded, in :data:`FIELDS` order: float64,
    int64 (unsigned fields and µs times, checked non-negative), string, list of strings."""
    return [_ARROW[k] for _, k, _ in FIELDS[kind]]


def _empty(kind: RecordType) -> list[pa.Array]:
    return [pa.array([], t) for t in arrow_types(kind)]


def _schema(kind: RecordType) -> pa.Schema:
    fields = [pa.field("v", pa.int64()), pa.field("type", pa.string())]
    return pa.schema(fields + [pa.field(n, _ARROW[k]) for n, k, _ in FIELDS[kind]])


_OPTIONS = {
    kind: pj.ParseOptions(explicit_schema=_schema(kind), unexpected_field_behavior="ignore")
    for kind in FIELDS
}
# One block per poll (smaller blocks parsed slower on this VM: 64-256 KiB by 5-25 %), no parser
# threads (the worker, ClickHouse and the broker share the cores). The input is an Arrow buffer
# over the joined bytes (zero-copy), not a Python file object: reading one of those takes the GIL
# on Arrow's I/O thread, which the main thread then waits for (up to the 5 ms switch interval).
_READ = pj.ReadOptions(use_threads=False, block_size=1 << 26)


def read_joined(joined: bytes, kind: RecordType) -> pa.Table:
    """Newline-joined JSON values of ``kind`` parsed against its schema, nothing checked: the
    reader step of :func:`decode_poll` (also the bench's ``floor`` scenario). Raises what
    pyarrow's reader raises on a value it refuses."""
    return pj.read_json(pa.BufferReader(joined), _READ, _OPTIONS[kind])


def decode_poll(
    values: list[bytes | None],
    kafka_ms: list[int],
    kind: RecordType,
    rules: ValidationRules,
    now_us: int,
) -> PollColumns:
    """Decode and validate ``values`` (one record type) as columns; see the module docstring.

    A ``recv_ts`` of 0 (not given) becomes the message's Kafka time, ``kafka_ms``, as
    :meth:`pipeline.load.tables.ColumnBuffer.append` does on the per-message path. A record type
    without vectorised rules (:data:`COLUMNAR_KINDS`; corrections are rare) is left whole to the
    per-message path (every row -1).
    """
    if kind not in _RULES:
        return PollColumns(_empty(kind), [-1] * len(values))
    joined = b"\n".join(values) if None not in values else b"\r"  # type: ignore[arg-type]
    if not _joinable(joined, len(values)):
        clean = [i for i, v in enumerate(values) if v and _plain(v)]
        joined = b""
    else:
        clean = list(range(len(values)))
    parts: list[tuple[list[int], pa.Table]] = []
    _read(values, clean, kind, parts, joined)
    if not parts:
        return PollColumns(_empty(kind), [-1] * len(values))
    indexes = [i for block, _ in parts for i in block]
    table = pa.concat_tables([t for _, t in parts])
    text = ParsedText(joined or b"\n".join([values[i] for i in indexes]))  # type: ignore[misc]
    columns, ok = _checked(table, kind, rules, now_us, text)
    kept = np.flatnonzero(ok)
    taken = np.asarray(indexes, dtype=np.int64)[kept]
    rows = np.full(len(values), -1, dtype=np.int64)
    rows[taken] = np.arange(len(taken))
    recv = columns[-1][kept]
    columns[-1] = np.where(recv == 0, np.asarray(kafka_ms, dtype=np.int64)[taken] * 1000, recv)
    every = len(kept) == table.num_rows
    out = [_rows(column, None if every else kept) for column in columns[:-1]]
    return PollColumns([*out, pa.array(columns[-1], pa.int64())], rows.tolist())


def _read(
    values: list[bytes | None],
    block: list[int],
    kind: RecordType,
    out: list[tuple[list[int], pa.Table]],
    joined: bytes = b"",
) -> None:
    """Parse ``values[block]`` (``joined``, when given, is their join); a block that fails is
    split until its culprits are alone."""
    if not block:
        return
    joined = joined or b"\n".join([values[i] for i in block])  # type: ignore[misc]
    try:
        table = read_joined(joined, kind)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        table = None
    if table is not None and table.num_rows == len(block):
        out.append((block, table))
    elif len(block) >= SPLIT_BELOW:
        mid = len(block) // 2
        _read(values, block[:mid], kind, out)
        _read(values, block[mid:], kind, out)


def _plain(value: bytes) -> bool:
    """No line break (it would split the value in two rows) and no ``\\u`` escape."""
    return b"\n" not in value and b"\r" not in value and b"\\u" not in value


def _joinable(joined: bytes, count: int) -> bool:
    """``joined`` (``count`` values joined by newlines) holds one line per value, no ``\\r``
    and no ``\\u`` escape. The scans are the cheap ones: a single byte is found with
    ``memchr`` (``\\u`` is searched for only when a backslash exists) and the newlines are
    counted by numpy, several times faster than ``bytes.count``."""
    if b"\r" in joined or (b"\\" in joined and b"\\u" in joined):
        return False
    return int(np.count_nonzero(np.frombuffer(joined, np.uint8) == _NEWLINE)) == count - 1


class ParsedText:
    """Facts about the bytes a table was parsed from, each found once and only when asked.

    :attr:`nulls_missing`: no ``null`` anywhere, so a null in the table is a missing field
    (asked only for a column that has nulls). :attr:`may_hold_controls`: a string may hold a
    control character (``[\\x00-\\x1f\\x7f-\\x9f]``). The strict reader refuses a raw byte
    below ``0x20`` in a string (a test pins it), so such a character can only come from an
    escape (a backslash), a raw ``0x7f``, or U+0080..U+009F, whose UTF-8 starts with ``0xc2``;
    text with none of those three bytes needs no per-string search."""

    __slots__ = ("_controls", "_data", "_nulls")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._nulls: bool | None = None
        self._controls: bool | None = None

    @property
    def nulls_missing(self) -> bool:
        if self._nulls is None:
            self._nulls = b"null" not in self._data
        return self._nulls

    @property
    def may_hold_controls(self) -> bool:
        if self._controls is None:
            data = self._data
            self._controls = b"\\" in data or b"\x7f" in data or b"\xc2" in data
        return self._controls


def _checked(
    table: pa.Table, kind: RecordType, rules: ValidationRules, now_us: int, text: ParsedText
) -> tuple[list[Any], np.ndarray]:
    """The columns (numpy for numbers, Arrow otherwise) and the mask of rows passing every rule."""
    n = table.num_rows
    ok = _arr(pc.equal(table["v"], SCHEMA_VERSION), n) & _arr(
        pc.equal(table["type"], kind.value), n
    )
    columns: list[Any] = []
    named: dict[str, Any] = {}
    for name, field_kind, default in FIELDS[kind]:
        column = table[name].combine_chunks()
        if column.null_count:  # a row with a null is refused, or given the default
            if default is REQUIRED or not text.nulls_missing:
                ok &= ~_arr(column.is_null(), n)
            column = column.fill_null(pa.scalar(_filler(field_kind, default), column.type))
        value: Any = column
        if field_kind in ("num", "uint", "time"):
            value = column.to_numpy(zero_copy_only=False)
            if field_kind == "num":
                ok &= np.isfinite(value)
            else:
                ok &= value >= 0
        else:
            ok &= _text_ok(column, field_kind, text.may_hold_controls)
        columns.append(value)
        named[name] = value
    ok &= _symbol_ok(named["symbol"], rules, n)
    ok &= _time_ok(named["ts"], rules, now_us, zero_ok=False)
    ok &= _time_ok(named["recv_ts"], rules, now_us, zero_ok=True)
    ok &= _RULES[kind](named)
    ok &= _bounds_ok(named, kind, rules)
    return columns, ok


def _filler(field_kind: str, default: Any) -> Any:
    """The value a null becomes: the field's default, or any value of its type when required
    (that row is refused anyway; the value only keeps the column's type)."""
    if field_kind == "texts":
        return []
    if default is not REQUIRED:
        return default
    return 0.0 if field_kind == "num" else 0 if field_kind in ("uint", "time") else ""


def _arr(mask: Any, n: int) -> np.ndarray:
    """An Arrow boolean array as numpy, null = False."""
    if mask.null_count:
        mask = mask.fill_null(False)
    out = np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
    return out if len(out) == n else np.zeros(n, dtype=bool)


def _text_ok(column: Any, field_kind: str, controls: bool) -> np.ndarray:
    """Strings within :data:`TEXT_MAX_LEN` characters (and items per list), of a known asset
    class; free of control characters, searched for only if ``controls``
    (:attr:`ParsedText.may_hold_controls`)."""
    n = len(column)
    if field_kind == "texts":
        counts = np.asarray(pc.list_value_length(column).fill_null(0).to_numpy(), dtype=np.int64)
        ok = counts <= TEXT_MAX_LEN
        items = pc.list_flatten(column)
        if len(items):
            bad = ~_text_ok(items, "text", controls)
            parents = np.asarray(pc.list_parent_indices(column).to_numpy())
            ok &= np.bincount(parents[bad], minlength=n) == 0
        return ok
    ok = _arr(pc.less_equal(pc.utf8_length(column), TEXT_MAX_LEN), n)
    if controls:
        ok &= ~_arr(pc.match_substring_regex(column, _CONTROL), n)
    if field_kind == "asset":
        ok &= _arr(pc.is_in(column, pa.array(sorted(ASSET_CLASSES))), n)
    return ok


def _symbol_ok(symbols: Any, rules: ValidationRules, n: int) -> np.ndarray:
    length = pc.utf8_length(symbols)
    ok = _arr(pc.and_(pc.greater(length, 0), pc.less_equal(length, SYMBOL_MAX_LEN)), n)
    distinct = pc.unique(symbols).to_pylist()
    good = [s for s in distinct if s is not None and rules.symbol_pattern.fullmatch(s)]
    return np.asarray(ok & _arr(pc.is_in(symbols, pa.array(good, pa.string())), n), dtype=bool)


def _time_ok(ts: np.ndarray, rules: ValidationRules, now_us: int, zero_ok: bool) -> np.ndarray:
    inside = (ts >= now_us - rules.max_past_us) & (ts <= now_us + rules.max_future_us)
    return np.asarray(inside | (ts == 0) if zero_ok else inside, dtype=bool)


def _not_negative(x: np.ndarray) -> np.ndarray:
    return np.asarray((x > 0) | ((x == 0) & ~np.signbit(x)), dtype=bool)


def _flags_ok(c: dict[str, Any]) -> np.ndarray:
    """Eligibility flags (``updates_*``) are 0 or 1, as :func:`~pipeline.codec.validate.validate`
    requires (``bad_flag``): they are multiplied into the candle sums."""
    ok = np.ones(len(c["price"]), dtype=bool)
    for name in ("updates_open_close", "updates_high_low", "updates_volume"):
        if name in c:
            ok &= (c[name] == 0) | (c[name] == 1)
    return ok


def _trade_ok(c: dict[str, Any]) -> np.ndarray:
    return np.asarray((c["price"] > 0) & _not_negative(c["size"]) & _flags_ok(c))


def _quote_ok(c: dict[str, Any]) -> np.ndarray:
    bid, ask = c["bid_price"], c["ask_price"]
    sizes = _not_negative(c["bid_size"]) & _not_negative(c["ask_size"])
    return np.asarray((bid > 0) & (ask > 0) & sizes & (bid <= ask))


def _bar_ok(c: dict[str, Any]) -> np.ndarray:
    o, h, lo, cl, interval = c["open"], c["high"], c["low"], c["close"], c["interval_s"]
    positive = (o > 0) & (h > 0) & (lo > 0) & (cl > 0)
    sizes = _not_negative(c["volume"]) & _not_negative(c["vwap"])
    shape = (lo <= np.minimum(o, cl)) & (np.maximum(o, cl) <= h)
    return np.asarray(positive & sizes & shape & (interval > 0) & (interval <= UINT32_MAX))


_RULES = {RecordType.TRADE: _trade_ok, RecordType.QUOTE: _quote_ok, RecordType.BAR: _bar_ok}
COLUMNAR_KINDS = frozenset(_RULES)  # the record types decoded as columns
_PRICES = {
    RecordType.TRADE: ("price",),
    RecordType.QUOTE: ("bid_price", "ask_price"),
    RecordType.BAR: ("open", "high", "low", "close", "vwap"),
}
_SIZES = {RecordType.TRADE: ("size",), RecordType.QUOTE: ("bid_size", "ask_size")}
_SIZES[RecordType.BAR] = ("volume",)


def _bounds_ok(c: dict[str, Any], kind: RecordType, rules: ValidationRules) -> np.ndarray:
    """Prices and sizes within the asset class's sanity bounds (``load.<class>_max_*``)."""
    classes = sorted(rules.bounds)
    code = np.asarray(pc.index_in(c["asset_class"], pa.array(classes)).fill_null(0).to_numpy())
    max_price = np.asarray([rules.bounds[a][0] for a in classes])[code]
    max_size = np.asarray([rules.bounds[a][1] for a in classes])[code]
    if kind is RecordType.BAR:
        max_size = max_size * BAR_VOLUME_TRADES
    ok = np.ones(len(code), dtype=bool)
    for name in _PRICES[kind]:
        ok &= ~(c[name] > max_price)
    for name in _SIZES[kind]:
        ok &= ~(c[name] > max_size)
    return ok


def _rows(column: Any, kept: np.ndarray | None) -> pa.Array:
    """Rows ``kept`` (None: all) of a checked column (numpy or Arrow) as one Arrow array."""
    if isinstance(column, np.ndarray):
        return pa.array(column if kept is None else column[kept])
    return column if kept is None else column.take(pa.array(kept))
