"""Two binary encodings of trades the ``floor`` scenario measures against JSON v1.

These are **measurement candidates, not a wire contract**: nothing in ``pipeline/`` writes or
reads them, and JSON v1 (``docs/CONTRACTS.md``) stays the only format on the tick topics. They
exist so that the bench can say, on this machine, what a consumer of each would cost per row
before anyone builds one as a new wire version (issue 14). Both decode into the same Arrow
columns as :func:`pipeline.codec.columnar.read_joined` gives for the same trades (the fields of
:data:`pipeline.codec.spec.FIELDS`, same names, order and types; its ``v`` and ``type`` columns
are the version byte and the topic here), which the tests check row for row.

* **Per-tick binary** (:func:`encode_rows` / :func:`decode_rows`): one Kafka message per tick,
  laid out as ClickHouse's ``RowBinary`` of one row whose first column is the version
  (``v UInt8`` = :data:`ROW_VERSION`, so a consumer tells it from JSON v1 by its first byte,
  ``{``), then the fixed-width fields (:data:`FIXED`, little-endian), then each text field as a
  LEB128 length and its UTF-8 bytes, then ``conditions`` as a LEB128 count and its strings. The
  fixed part sits at the same place in every message, so a whole poll's values are joined once
  and every numeric column is one numpy gather; each text field is one vectorised step over
  all rows (their lengths, then one gather of their bytes into an Arrow string array).
* **Block per message** (:func:`encode_block` / :func:`decode_blocks`): one Kafka message holds
  many ticks of one partition as an Arrow IPC stream (schema, one record batch), decoded by
  pyarrow's IPC reader. The stream's first byte is ``0xff`` (the IPC continuation marker), so it
  too is told from JSON v1 by its first byte; its version is the schema's ``v`` metadata.

Decoding raises :class:`CandidateError` on bytes that are not a candidate's layout (a wrong
version byte, a length running past the message, bytes left over, invalid UTF-8): both check
what the JSON reader checks of the bytes themselves (UTF-8 included), no validation rule.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from bench.errors import BenchError
from pipeline.codec import RecordType
from pipeline.codec.columnar import arrow_types
from pipeline.codec.spec import FIELDS

ROW_VERSION = 2  # the first byte of a per-tick binary message; JSON v1's is "{" (0x7b)
BLOCK_VERSION = b"3"  # the ``v`` of a block's schema metadata
TRADE = RecordType.TRADE
# The trade's Arrow schema as read_joined decodes it, without its "v" and "type" columns.
SCHEMA = pa.schema(
    [pa.field(n, t) for (n, _, _), t in zip(FIELDS[TRADE], arrow_types(TRADE), strict=True)]
)
FIXED = np.dtype(
    [("v", "u1"), ("ts", "<i8"), ("price", "<f8"), ("size", "<f8"), ("recv_ts", "<i8"),
     ("updates_open_close", "u1"), ("updates_high_low", "u1"), ("updates_volume", "u1")]
)  # fmt: skip
TEXTS = tuple(n for n, t in zip(SCHEMA.names, SCHEMA.types, strict=True) if t == pa.string())
LIST = "conditions"
_FLOATS = ("price", "size")
_NUMBERS = tuple(FIXED.names or ())[1:]  # the fixed part's fields after the version byte
_VARINT_MAX = 1 << 14  # two LEB128 bytes: 256 characters of UTF-8 (<= 1,024 bytes) fit


class CandidateError(BenchError):
    """Bytes that are not the candidate encoding: says what was wrong and in which message."""


def block_rows(ticks_per_s: int, partitions: int, read_every_s: float) -> int:
    """The ticks one partition gets from one ingest read: a source read every ``read_every_s``
    at ``ticks_per_s``, keyed over ``partitions`` partitions (at least 1)."""
    return max(1, round(ticks_per_s * read_every_s / partitions))


# ------------------------------------------------------------------ per-tick binary


def encode_rows(table: pa.Table) -> list[bytes]:
    """One per-tick binary value per row of ``table`` (schema :data:`SCHEMA`)."""
    n = table.num_rows
    fixed = np.zeros(n, FIXED)
    fixed["v"] = ROW_VERSION
    for name in _NUMBERS:
        fixed[name] = table[name].to_numpy()
    raw = fixed.tobytes()
    size = FIXED.itemsize
    parts = [[raw[i * size : (i + 1) * size] for i in range(n)]]
    parts += [_texts(table[name].to_pylist()) for name in TEXTS]
    parts.append([_list(items) for items in table[LIST].to_pylist()])
    return [b"".join(row) for row in zip(*parts, strict=True)]


def _varint(value: int) -> bytes:
    if not 0 <= value < _VARINT_MAX:
        raise CandidateError(f"a length of {value} does not fit in two LEB128 bytes")
    return bytes([value]) if value < 0x80 else bytes([(value & 0x7F) | 0x80, value >> 7])


def _text(text: str) -> bytes:
    data = text.encode()
    return _varint(len(data)) + data


def _texts(texts: list[str]) -> list[bytes]:
    seen: dict[str, bytes] = {}
    return [seen[t] if t in seen else seen.setdefault(t, _text(t)) for t in texts]


def _list(items: list[str]) -> bytes:
    return _varint(len(items)) + b"".join(_text(t) for t in items)


def decode_rows(values: list[bytes]) -> pa.Table:
    """Per-tick binary ``values`` (one poll) as one Arrow table of :data:`SCHEMA`.

    Raises :class:`CandidateError` naming the first message that is not the layout."""
    n = len(values)
    lengths = np.fromiter(map(len, values), np.int64, n)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    buf = np.frombuffer(b"".join([*values, b"\0\0"]), np.uint8)  # varints look one byte ahead
    short = lengths < FIXED.itemsize
    if short.any():
        raise CandidateError(f"message {int(np.argmax(short))} is shorter than the fixed part")
    head = buf[starts[:, None] + np.arange(FIXED.itemsize)].view(FIXED).reshape(n)
    wrong = head["v"] != ROW_VERSION
    if wrong.any():
        raise CandidateError(f"message {int(np.argmax(wrong))}: not version {ROW_VERSION}")
    columns: dict[str, pa.Array] = {
        name: pa.array(head[name].astype(np.float64 if name in _FLOATS else np.int64))
        for name in _NUMBERS
    }
    at = starts + FIXED.itemsize
    for name in TEXTS:
        at, columns[name] = _strings_at(buf, at)
    at, columns[LIST] = _lists_at(buf, at)
    _check_ends(at, ends)
    return pa.Table.from_arrays([columns[name] for name in SCHEMA.names], schema=SCHEMA)


def _lengths_at(buf: npt.NDArray[np.uint8], at: npt.NDArray[np.int64]) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64]
]:  # fmt: skip
    """The LEB128 lengths starting at ``at`` and where what they measure starts."""
    if len(at) and int(at.max()) >= len(buf) - 2:
        raise CandidateError("a field runs past the end of the poll's messages")
    first = buf[at].astype(np.int64)
    long = first >= 0x80
    if not long.any():
        return first, at + 1
    second = buf[at + 1].astype(np.int64)
    if (second[long] >= 0x80).any():
        raise CandidateError(f"a length of three or more LEB128 bytes at byte {int(at[0])}")
    length = np.where(long, (first & 0x7F) | (second << 7), first)
    return length, at + 1 + long


def _strings_at(buf: npt.NDArray[np.uint8], at: npt.NDArray[np.int64]) -> tuple[
    npt.NDArray[np.int64], pa.Array
]:  # fmt: skip
    """One text field of every row (at ``at``) as a string array; where each row goes on."""
    length, begin = _lengths_at(buf, at)
    return begin + length, _gather(buf, begin, length)


def _gather(
    buf: npt.NDArray[np.uint8], begin: npt.NDArray[np.int64], length: npt.NDArray[np.int64]
) -> pa.Array:
    """The strings ``buf[begin[i] : begin[i] + length[i]]`` as one Arrow string array (UTF-8
    checked)."""
    offsets = np.zeros(len(length) + 1, np.int32)
    np.cumsum(length, out=offsets[1:])
    total = int(offsets[-1])
    index = np.repeat(begin - offsets[:-1], length) + np.arange(total)
    if total and int(index[-1]) >= len(buf) - 2:
        raise CandidateError("a string runs past the end of the poll's messages")
    data = buf[index]
    array = pa.StringArray.from_buffers(len(length), pa.py_buffer(offsets), pa.py_buffer(data))
    try:
        array.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise CandidateError(f"a text field is not valid UTF-8: {exc}") from exc
    return array


def _lists_at(buf: npt.NDArray[np.uint8], at: npt.NDArray[np.int64]) -> tuple[
    npt.NDArray[np.int64], pa.Array
]:  # fmt: skip
    """The ``conditions`` of every row (a count, then that many texts) as a list array: one
    vectorised step per item position, over the rows that have that many items."""
    count, at = _lengths_at(buf, at)
    offsets = np.zeros(len(count) + 1, np.int32)
    np.cumsum(count, out=offsets[1:])
    begin = np.zeros(int(offsets[-1]), np.int64)
    length = np.zeros_like(begin)
    for j in range(int(count.max()) if len(count) else 0):
        rows = np.flatnonzero(count > j)
        size, start = _lengths_at(buf, at[rows])
        slot = offsets[rows] + j
        begin[slot], length[slot] = start, size
        at[rows] = start + size
    items = _gather(buf, begin, length)
    return at, pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), items)


def _check_ends(at: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]) -> None:
    wrong = at != ends
    if wrong.any():
        i = int(np.argmax(wrong))
        raise CandidateError(
            f"message {i}: its fields end at {at[i] - ends[i]:+d} bytes of its end"
        )


# ------------------------------------------------------------------ block per message


def encode_block(table: pa.Table) -> bytes:
    """``table`` (schema :data:`SCHEMA`) as one Arrow IPC stream: the schema, one batch."""
    schema = SCHEMA.with_metadata({"v": BLOCK_VERSION})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_table(table.cast(schema), max_chunksize=max(table.num_rows, 1))
    return bytes(sink.getvalue().to_pybytes())


def decode_blocks(values: list[bytes]) -> pa.Table:
    """Block messages (one poll) as one Arrow table of :data:`SCHEMA`, their rows in message
    order. Raises :class:`CandidateError` naming the first message that is not a block."""
    batches: list[pa.RecordBatch] = []
    for i, value in enumerate(values):
        try:
            reader = pa.ipc.open_stream(value)
            if reader.schema.metadata != {b"v": BLOCK_VERSION} or reader.schema != SCHEMA:
                raise CandidateError(f"message {i}: not a version {BLOCK_VERSION!r} trade block")
            batches.extend(reader)
        except (pa.ArrowException, OSError) as exc:
            raise CandidateError(f"message {i}: not an Arrow IPC stream: {exc}") from exc
    table = pa.Table.from_batches(batches, SCHEMA)
    try:
        table.validate(full=True)  # the IPC reader checks no UTF-8; the JSON reader does
    except pa.ArrowInvalid as exc:
        raise CandidateError(f"a block's columns are not valid: {exc}") from exc
    return table


def blocks(table: pa.Table, partition_of: list[int], rows: int) -> Iterator[tuple[int, bytes, int]]:
    """(partition, block, its rows) for ``table``'s rows: each partition's rows in their
    order, cut every ``rows`` rows (``partition_of`` names each row's partition)."""
    parts = np.asarray(partition_of, np.int64)
    for partition in np.unique(parts).tolist():
        taken = table.take(pa.array(np.flatnonzero(parts == partition)))
        for first in range(0, taken.num_rows, rows):
            block = taken.slice(first, rows)
            yield partition, encode_block(block), block.num_rows


__all__ = [
    "BLOCK_VERSION", "FIXED", "ROW_VERSION", "SCHEMA", "CandidateError", "block_rows", "blocks",
    "decode_blocks", "decode_rows", "encode_block", "encode_rows",
]  # fmt: skip
