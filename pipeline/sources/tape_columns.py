"""The model's rows as column blocks of trades and quotes, the way :class:`Tape` hands them out.

What used to be decided row by row (venue, odd-lot condition, trade id) is computed here for a
whole selection of rows with numpy, into :class:`~pipeline.codec.block.RecordBlock` columns:
``records()`` of a block gives the same records, field for field.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pipeline.codec import Quote, Trade
from pipeline.codec.block import Categorical, Digits, RecordBlock
from pipeline.sources.market import Block
from pipeline.sources.tickers import CLASSES, VENUES, E
from pipeline.sources.universe import Universe

I64 = npt.NDArray[np.int64]
ODD_LOT: tuple[tuple[str, ...], ...] = ((), ("I",))
"""Trade conditions: none, or ``I`` (odd lot: an equity trade of fewer than 100 shares)."""


class TapeColumns:
    """Builds the trade and quote blocks of chosen rows of a model :class:`Block`."""

    def __init__(self, universe: Universe, source: str) -> None:
        self._source = source
        self._symbols = universe.symbols
        self._classes = tuple(CLASSES[c] for c in universe.cls.tolist())
        self._venues = tuple(v for c in CLASSES for v in VENUES[c])
        counts = np.array([len(VENUES[c]) for c in CLASSES], dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        self._venue_start = starts[universe.cls]  # per symbol: its class's first venue
        self._venue_count = counts[universe.cls]
        self._equity = universe.cls == CLASSES.index(E)

    def _venue(self, sym: I64, draw: I64) -> Categorical:
        """The class's venue number ``draw`` (modulo how many it has), per row."""
        return Categorical(self._venue_start[sym] + draw % self._venue_count[sym], self._venues)

    def trades(self, b: Block, rows: I64) -> RecordBlock:
        """Rows ``rows`` of ``b`` as trades (trade id = the record's feed index)."""
        sym, size = b.sym[rows], b.size[rows]
        odd_lot = (self._equity[sym] & (size < 100)).astype(np.int64)
        columns = {
            "symbol": Categorical(sym, self._symbols),
            "ts": b.ts[rows],
            "price": b.price[rows],
            "size": size,
            "asset_class": Categorical(sym, self._classes),
            "exchange": self._venue(sym, b.venue[rows]),
            "trade_id": Digits(b.idx[rows]),
            "conditions": Categorical(odd_lot, ODD_LOT),
            "source": self._source,
        }
        return RecordBlock(Trade, len(rows), columns)

    def quotes(self, b: Block, rows: I64) -> RecordBlock:
        """Rows ``rows`` of ``b`` as quotes (bid and ask venues from one draw)."""
        sym, venue = b.sym[rows], b.venue[rows]
        columns = {
            "symbol": Categorical(sym, self._symbols),
            "ts": b.ts[rows],
            "bid_price": b.bid[rows],
            "bid_size": b.bid_size[rows],
            "ask_price": b.ask[rows],
            "ask_size": b.ask_size[rows],
            "asset_class": Categorical(sym, self._classes),
            "bid_exchange": self._venue(sym, venue),
            "ask_exchange": self._venue(sym, venue >> 8),
            "source": self._source,
        }
        return RecordBlock(Quote, len(rows), columns)
