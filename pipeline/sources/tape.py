"""Turns the market model's numpy blocks into records, up to a point in time.

:class:`Tape` hands out everything scheduled up to ``until`` (at most ``limit`` rows per call)
as a :class:`~pipeline.codec.batch.PayloadBatch`: read item by item it holds
:class:`~pipeline.codec.Trade`, :class:`~pipeline.codec.Quote`, :class:`~pipeline.codec.Bar`
and, for the ``malformed`` anomaly, :class:`RawMessage` items; the ingest worker encodes its
trade and quote blocks in one pass instead (:mod:`pipeline.sources.tape_columns`).

Order within a slice of a model block: the rows in schedule order (a duplicate right after its
original, a malformed row in its place), then the bars those trades closed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pipeline.codec import Payload, RawMessage
from pipeline.codec.batch import PayloadBatch
from pipeline.sources.anomalies import malformed_bytes
from pipeline.sources.bars import US_PER_MINUTE, BarBuilder
from pipeline.sources.market import BLOCK, Block, MarketModel
from pipeline.sources.tape_columns import TapeColumns

TRADES, QUOTES, RAW, BARS = 0, 1, 2, 3
"""Part numbers of a slice's batch."""


class Tape:
    """Reads the feed of ``model`` in schedule order; not thread-safe."""

    def __init__(self, model: MarketModel, source: str) -> None:
        self._model = model
        self._columns = TapeColumns(model.universe, source)
        self._bars = BarBuilder(model.universe, source)
        self._block: Block | None = None
        self._pos = 0
        self._k = 0

    def next_due_us(self) -> int:
        """Scheduled time of the next record not yet handed out (a lower bound when masked)."""
        if self._block is not None and self._pos < len(self._block.ts):
            return int(self._block.ts[self._pos])
        return self._model.scheduled_ts(self._k * BLOCK)

    def take(self, until_us: int, limit: int) -> tuple[PayloadBatch, bool]:
        """Items scheduled at or before ``until_us``; ``True`` when ``limit`` cut the read short.

        When the read was complete, the bars of minutes that ended before ``until_us`` are
        included too.
        """
        out: list[PayloadBatch] = []
        rows = 0
        while rows < limit:
            block = self._block
            if block is None or self._pos >= len(block.ts):
                if self._model.scheduled_ts(self._k * BLOCK) > until_us:
                    break
                self._block, self._pos, self._k = self._model.block(self._k), 0, self._k + 1
                continue
            hi = int(np.searchsorted(block.ts, until_us, side="right"))
            hi = min(hi, self._pos + limit - rows)
            if hi <= self._pos:
                break
            out.append(self._slice(block, self._pos, hi))
            rows += hi - self._pos
            self._pos = hi
        cut = rows >= limit
        if not cut:
            out.append(PayloadBatch.of(self._bars.close_before(until_us // US_PER_MINUTE)))
        return PayloadBatch.concat(out), cut

    def _slice(self, b: Block, lo: int, hi: int) -> PayloadBatch:
        rows = np.arange(lo, hi, dtype=np.int64)
        quote, raw = b.quote[lo:hi], b.bad[lo:hi] >= 0
        trades = rows[~quote & ~raw]
        bars = self._bars.add(b.ts[trades], b.sym[trades], b.price[trades], b.size[trades])
        kind = np.where(raw, RAW, np.where(quote, QUOTES, TRADES)).astype(np.int64)
        parts = (
            self._columns.trades(b, trades),
            self._columns.quotes(b, rows[quote & ~raw]),
            tuple(self._malformed(b, int(r)) for r in rows[raw].tolist()),
            tuple(bars),
        )
        repeats = 1 + (b.dup[lo:hi] & ~raw)
        part = np.append(np.repeat(kind, repeats), np.full(len(bars), BARS, dtype=np.int64))
        index = np.append(np.repeat(_positions(kind), repeats), np.arange(len(bars)))
        return PayloadBatch(parts, part, index.astype(np.int64))

    def _malformed(self, b: Block, row: int) -> Payload:
        """The bad bytes standing in for row ``row`` (on the topic of its record type)."""
        one = np.array([row], dtype=np.int64)
        build = self._columns.quotes if b.quote[row] else self._columns.trades
        record = build(b, one).records()[0]
        value = malformed_bytes(record, int(b.bad[row]))
        return RawMessage(record.kind, record.symbol.encode(), value)


def _positions(kind: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each row's position among the rows of its own kind."""
    out = np.empty(len(kind), dtype=np.int64)
    for k in (TRADES, QUOTES, RAW):
        sel = kind == k
        out[sel] = np.arange(int(sel.sum()), dtype=np.int64)
    return out
