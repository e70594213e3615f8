"""Turns the market model's numpy blocks into records, up to a point in time.

:class:`Tape` hands out everything scheduled up to ``until`` (at most ``limit`` rows per call),
as :class:`~pipeline.codec.Trade`, :class:`~pipeline.codec.Quote`,
:class:`~pipeline.codec.Bar` and, for the ``malformed`` anomaly, :class:`RawMessage` items.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.codec import Payload, Quote, RawMessage, Record, Trade
from pipeline.sources.anomalies import malformed_bytes
from pipeline.sources.bars import US_PER_MINUTE, BarBuilder
from pipeline.sources.market import BLOCK, Block, MarketModel
from pipeline.sources.tickers import CLASSES, VENUES, E


class Tape:
    """Reads the feed of ``model`` in schedule order; not thread-safe."""

    def __init__(self, model: MarketModel, source: str) -> None:
        self._model = model
        self._source = source
        u = model.universe
        self._classes = [CLASSES[c] for c in u.cls.tolist()]
        self._venues = [VENUES[c] for c in self._classes]
        self._bars = BarBuilder(u, source)
        self._block: Block | None = None
        self._pos = 0
        self._k = 0

    def next_due_us(self) -> int:
        """Scheduled time of the next record not yet handed out (a lower bound when masked)."""
        if self._block is not None and self._pos < len(self._block.ts):
            return int(self._block.ts[self._pos])
        return self._model.scheduled_ts(self._k * BLOCK)

    def take(self, until_us: int, limit: int) -> tuple[list[Payload], bool]:
        """Items scheduled at or before ``until_us``; ``True`` when ``limit`` cut the read short.

        When the read was complete, the bars of minutes that ended before ``until_us`` are
        included too.
        """
        out: list[Payload] = []
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
            out += self._slice(block, self._pos, hi)
            rows += hi - self._pos
            self._pos = hi
        cut = rows >= limit
        if not cut:
            out += self._bars.close_before(until_us // US_PER_MINUTE)
        return out, cut

    def _slice(self, b: Block, lo: int, hi: int) -> list[Payload]:
        trades = ~b.quote[lo:hi] & (b.bad[lo:hi] < 0)
        out: list[Payload] = []
        bars = self._bars.add(
            b.ts[lo:hi][trades], b.sym[lo:hi][trades], b.price[lo:hi][trades], b.size[lo:hi][trades]
        )
        cols = (
            b.idx,
            b.ts,
            b.sym,
            b.quote,
            b.price,
            b.size,
            b.bid,
            b.ask,
            b.bid_size,
            b.ask_size,
            b.dup,
            b.bad,
            b.venue,
        )
        for row in zip(*(c[lo:hi].tolist() for c in cols), strict=True):
            record = self._record(row)
            duplicate, malformed = row[10], row[11]
            if malformed >= 0:
                value = malformed_bytes(record, malformed)
                out.append(RawMessage(record.kind, record.symbol.encode(), value))
                continue
            out.append(record)
            if duplicate:
                out.append(record)
        out += bars
        return out

    def _record(self, row: tuple[Any, ...]) -> Record:
        """One record from a row of plain Python values (numpy's ``tolist`` output)."""
        idx, ts, s, is_quote, price, size, bid, ask, bsz, asz, _, _, venue = row
        symbol, cls, venues = self._model.universe.symbols[s], self._classes[s], self._venues[s]
        if is_quote:
            return Quote(
                symbol,
                ts,
                bid,
                bsz,
                ask,
                asz,
                cls,
                venues[venue % len(venues)],
                venues[(venue >> 8) % len(venues)],
                source=self._source,
            )
        odd_lot = ("I",) if cls is E and size < 100 else ()
        return Trade(
            symbol,
            ts,
            price,
            size,
            cls,
            venues[venue % len(venues)],
            str(idx),
            odd_lot,
            self._source,
        )
