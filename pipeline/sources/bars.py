"""One-minute OHLCV bars built from the trades the simulator emitted, closed at minute ends."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pipeline.codec import Bar
from pipeline.sources.tickers import CLASSES
from pipeline.sources.universe import Universe

US_PER_MINUTE = 60_000_000


class BarBuilder:
    """Accumulates trades per symbol for the current minute; hands back bars when it ends.

    Trades must arrive in time order. A minute's bars come out when the first trade of a later
    minute arrives or when :meth:`close_before` is told the clock has passed the minute.
    """

    def __init__(self, universe: Universe, source: str) -> None:
        self._universe = universe
        self._source = source
        self._classes = [CLASSES[c] for c in universe.cls.tolist()]
        self._minute: int | None = None
        self._reset()

    def _reset(self) -> None:
        n = len(self._universe)
        self._open = np.zeros(n)
        self._high = np.full(n, -np.inf)
        self._low = np.full(n, np.inf)
        self._close = np.zeros(n)
        self._volume = np.zeros(n)
        self._notional = np.zeros(n)
        self._count = np.zeros(n, dtype=np.int64)

    def add(
        self,
        ts: npt.NDArray[np.int64],
        sym: npt.NDArray[np.int64],
        price: npt.NDArray[np.float64],
        size: npt.NDArray[np.float64],
    ) -> list[Bar]:
        """Accumulate trades; return the bars of any minute these trades closed."""
        out: list[Bar] = []
        minutes = ts // US_PER_MINUTE
        for m in np.unique(minutes).tolist():
            sel = minutes == m
            out += self.close_before(m)
            self._accumulate(sym[sel], price[sel], size[sel])
            self._minute = m
        return out

    def close_before(self, minute: int) -> list[Bar]:
        """Bars of the open minute if it is earlier than ``minute``; else nothing."""
        if self._minute is None or minute <= self._minute:
            return []
        bars = self._emit(self._minute)
        self._minute = None
        self._reset()
        return bars

    def _accumulate(
        self,
        sym: npt.NDArray[np.int64],
        price: npt.NDArray[np.float64],
        size: npt.NDArray[np.float64],
    ) -> None:
        n = len(self._universe)
        uniq, first = np.unique(sym, return_index=True)
        fresh = self._count[uniq] == 0
        self._open[uniq[fresh]] = price[first[fresh]]
        uniq_last, last_rev = np.unique(sym[::-1], return_index=True)
        self._close[uniq_last] = price[::-1][last_rev]
        np.maximum.at(self._high, sym, price)
        np.minimum.at(self._low, sym, price)
        self._volume += np.bincount(sym, weights=size, minlength=n)
        self._notional += np.bincount(sym, weights=price * size, minlength=n)
        self._count += np.bincount(sym, minlength=n)

    def _emit(self, minute: int) -> list[Bar]:
        ts = minute * US_PER_MINUTE
        bars = []
        for s in np.flatnonzero(self._count).tolist():
            volume = float(self._volume[s])
            vwap = float(self._notional[s]) / volume if volume > 0 else float(self._close[s])
            bars.append(
                Bar(
                    symbol=self._universe.symbols[s],
                    ts=ts,
                    interval_s=60,
                    open=float(self._open[s]),
                    high=float(self._high[s]),
                    low=float(self._low[s]),
                    close=float(self._close[s]),
                    volume=round(volume, 6),
                    vwap=round(vwap, 8),
                    trade_count=int(self._count[s]),
                    asset_class=self._classes[s],
                    source=self._source,
                )
            )
        return bars
