"""A source's batch in order, held as column blocks and plain payloads.

:class:`PayloadBatch` is a ``Sequence[Payload]``: whoever reads it item by item sees the records
a row-at-a-time source would have yielded (built on first access). The ingest worker does not
read it that way: :func:`encode_payloads` takes each block's fast path
(:func:`~pipeline.codec.block_wire.encode_block`) and puts the messages back in batch order.
Row ``i`` of the batch is row ``row_index[i]`` of part ``row_part[i]``; a row may appear twice (a
duplicate on purpose).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import NamedTuple, TypeVar, overload

import numpy as np
import numpy.typing as npt

from pipeline.codec.block import RecordBlock, objects, take
from pipeline.codec.block_wire import encode_block
from pipeline.codec.records import Payload, RawMessage, RecordType
from pipeline.codec.wire import encode

Part = RecordBlock | tuple[Payload, ...]
T = TypeVar("T")


class EncodedRows(NamedTuple):
    """Kafka messages of a batch, in batch order: the record type, key and value of each."""

    kinds: list[RecordType]
    keys: list[bytes]
    values: list[bytes]


class PayloadBatch(Sequence[Payload]):
    """Payloads in order: parts (column blocks or plain payloads) and the row order over them.

    Raises ``ValueError`` if ``part`` and ``index`` differ in length or point outside the parts.
    """

    def __init__(
        self,
        parts: Sequence[Part],
        part: npt.NDArray[np.int64],
        index: npt.NDArray[np.int64],
    ) -> None:
        self.parts = tuple(parts)
        self.row_part, self.row_index = part, index
        sizes = np.array([_size(p) for p in self.parts] or [0], dtype=np.int64)
        if len(part) != len(index):
            raise ValueError(f"part has {len(part)} rows, index {len(index)}")
        if len(part) and (part.min() < 0 or part.max() >= len(self.parts)):
            raise ValueError("a row points to a part that does not exist")
        if len(part) and ((index < 0) | (index >= sizes[part])).any():
            raise ValueError("a row points past the end of its part")
        self._starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self._items: list[Payload] | None = None

    @classmethod
    def of(cls, items: Sequence[Payload]) -> PayloadBatch:
        """Plain payloads as a batch of one part."""
        n = len(items)
        return cls([tuple(items)], np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64))

    @classmethod
    def concat(cls, batches: Sequence[PayloadBatch]) -> PayloadBatch:
        """The rows of ``batches`` one after the other."""
        parts: list[Part] = []
        part, index = [], []
        for batch in batches:
            part.append(batch.row_part + len(parts))
            index.append(batch.row_index)
            parts += batch.parts
        empty = np.zeros(0, dtype=np.int64)
        return cls(parts, np.concatenate(part or [empty]), np.concatenate(index or [empty]))

    def __len__(self) -> int:
        return len(self.row_part)

    @overload
    def __getitem__(self, i: int) -> Payload: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Payload]: ...
    def __getitem__(self, i: int | slice) -> Payload | Sequence[Payload]:
        return self.items()[i]

    def __iter__(self) -> Iterator[Payload]:
        return iter(self.items())

    def items(self) -> list[Payload]:
        """The payloads as objects, in order (built once)."""
        if self._items is None:
            per_part = [p.records() if isinstance(p, RecordBlock) else list(p) for p in self.parts]
            self._items = self._gather([x for items in per_part for x in items])
        return self._items

    def _gather(self, flat: list[T]) -> list[T]:
        """Row ``i``'s element of ``flat`` (the parts' rows one after the other)."""
        if not len(self):
            return []
        return take(flat, self._starts[self.row_part] + self.row_index, scalars=True)

    def encoded(self, recv_ts: int) -> EncodedRows:
        """Every row's Kafka message (see :func:`encode_payloads`)."""
        kinds: list[RecordType] = []
        keys: list[bytes] = []
        values: list[bytes] = []
        for p in self.parts:
            if isinstance(p, RecordBlock):
                kinds += [p.kind] * p.size
                keys += p.keys()
                values += encode_block(p, recv_ts)
            else:
                rows = encode_payloads(p, recv_ts)
                kinds += rows.kinds
                keys += rows.keys
                values += rows.values
        return EncodedRows(self._gather(kinds), self._gather(keys), self._gather(values))

    def symbol_counts(self) -> dict[str, int]:
        """Rows per symbol, raw (unparsed) messages left out."""
        counts: Counter[str] = Counter()
        for number, p in enumerate(self.parts):
            rows = self.row_index[self.row_part == number]
            if isinstance(p, RecordBlock):
                counts.update(p.symbol_counts(rows))
            else:
                counts.update(symbol_counts([p[i] for i in rows.tolist()]))
        return dict(counts)


def _size(part: Part) -> int:
    return part.size if isinstance(part, RecordBlock) else len(part)


def encode_payloads(items: Sequence[Payload], recv_ts: int) -> EncodedRows:
    """The Kafka message of every item in order: a record encoded as JSON v1 (``recv_ts`` filling
    in a missing receive time), a :class:`RawMessage` as it is. A :class:`PayloadBatch` takes its
    blocks' one-pass encoding; the bytes are the same."""
    if isinstance(items, PayloadBatch):
        return items.encoded(recv_ts)
    kinds: list[RecordType] = []
    keys: list[bytes] = []
    values: list[bytes] = []
    for item in items:
        encoded = item if isinstance(item, RawMessage) else encode(item, recv_ts)
        kinds.append(encoded.kind)
        keys.append(encoded.key)
        values.append(encoded.value)
    return EncodedRows(kinds, keys, values)


def symbol_counts(items: Sequence[Payload]) -> dict[str, int]:
    """Items per symbol, raw (unparsed) messages left out; per block for a batch."""
    if isinstance(items, PayloadBatch):
        return items.symbol_counts()
    return dict(Counter(i.symbol for i in items if not isinstance(i, RawMessage)))


__all__ = ["EncodedRows", "PayloadBatch", "encode_payloads", "objects", "symbol_counts"]
