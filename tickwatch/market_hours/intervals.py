"""Trading intervals as sorted numpy arrays: the one representation every calendar reduces to.

A calendar is a sequence of disjoint ``[start, end)`` intervals in epoch microseconds, in time
order. A session with a lunch break is two intervals (open → break start, break end → close);
an early close is a shorter interval; a holiday has none. Every question the pipeline asks —
"open now?", "open at each of these 100k timestamps?", "when did trading last happen?", "how
much trading time lies between these two instants?" — is a ``searchsorted`` over these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
US = 1_000_000


@dataclass(frozen=True)
class Intervals:
    """Disjoint, sorted ``[starts[i], ends[i])`` trading intervals (epoch µs), within ``[lo, hi)``.

    ``lo``/``hi`` bound the span the intervals were built for; callers rebuild outside it.
    """

    starts: I64
    ends: I64
    lo: int
    hi: int

    def covers(self, lo_us: int, hi_us: int) -> bool:
        """True when ``[lo_us, hi_us]`` lies inside the span these intervals were built for."""
        return self.lo <= lo_us and hi_us < self.hi

    def open_mask(self, ts_us: I64) -> npt.NDArray[np.bool_]:
        """True where ``ts_us`` falls inside an interval."""
        i = np.searchsorted(self.starts, ts_us, side="right") - 1
        j = np.clip(i, 0, max(len(self.starts) - 1, 0))
        if not len(self.starts):
            return np.zeros(len(ts_us), dtype=np.bool_)
        return np.asarray((i >= 0) & (ts_us < self.ends[j]), dtype=np.bool_)

    def last_open_us(self, t_us: int) -> int | None:
        """``t_us`` when open; else the end of the latest interval before it (None if none)."""
        i = int(np.searchsorted(self.starts, t_us, side="right")) - 1
        if i < 0:
            return None
        return min(t_us, int(self.ends[i]))

    def interval_start_us(self, t_us: int) -> int | None:
        """Start of the interval containing ``t_us``; None when closed at ``t_us``."""
        i = int(np.searchsorted(self.starts, t_us, side="right")) - 1
        if i < 0 or t_us >= int(self.ends[i]):
            return None
        return int(self.starts[i])

    def open_before(self, ts_us: I64) -> I64:
        """Trading microseconds from ``lo`` up to each of ``ts_us`` (a cumulative clock)."""
        durations = self.ends - self.starts
        cum = np.concatenate(([0], np.cumsum(durations)))
        i = np.searchsorted(self.starts, ts_us, side="right") - 1
        j = np.clip(i, 0, max(len(self.starts) - 1, 0))
        if not len(self.starts):
            return np.zeros(len(ts_us), dtype=np.int64)
        inside = np.clip(ts_us - self.starts[j], 0, durations[j])
        return np.asarray(np.where(i >= 0, cum[j] + inside, 0), dtype=np.int64)


def split_breaks(opens: I64, closes: I64, break_starts: I64, break_ends: I64) -> tuple[I64, I64]:
    """Sessions (open, close, optional break) → intervals; a break is ``break_start > 0``."""
    has_break = (break_starts > 0) & (break_ends > break_starts)
    starts = np.concatenate((opens, break_ends[has_break]))
    ends = np.concatenate((np.where(has_break, break_starts, closes), closes[has_break]))
    order = np.argsort(starts, kind="stable")
    return starts[order], ends[order]
