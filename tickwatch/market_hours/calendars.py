"""The three kinds of calendar: an exchange's (``exchange_calendars``), FX 24/5, always open.

Every calendar answers the same questions (:class:`Calendar`); the exchange and FX ones build
their :class:`~tickwatch.market_hours.intervals.Intervals` lazily for a window around the
instants asked about, and rebuild when asked about an instant outside it.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from tickwatch.market_hours.intervals import F64, I64, US, Intervals, split_breaks

ALWAYS = "24/7"
FX = "FX"
WINDOW_DAYS = 400  # intervals are built for [t - 400 d, t + 400 d) around the first use
DAY_US = 86_400 * US

# FX trades 24/5: the week opens Sunday 17:00 and closes Friday 17:00 New York time (the
# "New York close"; DST-aware, so 21:00/22:00 UTC in summer/winter). Source of the convention:
# Xignite, "Global Currencies FAQ" ("Currency markets trade from Sundays 5:00 PM EST ... to
# Fridays 5:00 PM EST (market close in New York)"), the schedule FX platforms publish.
FX_ZONE = ZoneInfo("America/New_York")
FX_OPEN_HOUR = 17


class MarketOpen(Protocol):
    """The one question a live source's stall detection asks."""

    def is_open(self, epoch_s: float) -> bool:
        """True when the market trades at ``epoch_s`` (Unix seconds, UTC)."""
        ...


class Calendar(MarketOpen, Protocol):
    """When one market trades. Instants are epoch seconds (UTC); arrays are epoch µs."""

    name: str

    def open_mask(self, ts_us: I64) -> npt.NDArray[np.bool_]:
        """Vectorised :meth:`is_open` over epoch-µs timestamps (the simulator's hot path)."""
        ...

    def last_open(self, epoch_s: float) -> float | None:
        """The last moment at or before ``epoch_s`` the market was open: ``epoch_s`` itself
        when open, else the end of the latest trading interval (a close or a break start)."""
        ...

    def trading_seconds(self, since_s: float, until_s: float) -> float:
        """Seconds of trading time in ``[since_s, until_s)`` (0 when ``until_s <= since_s``)."""
        ...

    def trading_seconds_many(self, since_s: F64, until_s: float) -> F64:
        """:meth:`trading_seconds` from each of ``since_s`` to one ``until_s``, vectorised."""
        ...


class AlwaysOpen:
    """A market that never closes (crypto)."""

    name = ALWAYS

    def is_open(self, epoch_s: float) -> bool:
        return True

    def open_mask(self, ts_us: I64) -> npt.NDArray[np.bool_]:
        return np.ones(len(ts_us), dtype=np.bool_)

    def last_open(self, epoch_s: float) -> float | None:
        return epoch_s

    def trading_seconds(self, since_s: float, until_s: float) -> float:
        return max(0.0, until_s - since_s)

    def trading_seconds_many(self, since_s: F64, until_s: float) -> F64:
        return np.asarray(np.maximum(0.0, until_s - since_s), dtype=np.float64)


Builder = Callable[[int, int], tuple[I64, I64]]
"""Builds (starts, ends) in epoch µs for intervals overlapping ``[lo_us, hi_us)``."""


class IntervalCalendar:
    """A calendar from a :data:`Builder`, built for a window and rebuilt on demand; thread-safe."""

    def __init__(self, name: str, build: Builder) -> None:
        self.name = name
        self._build = build
        self._intervals: Intervals | None = None
        self._lock = threading.Lock()

    def intervals(self, lo_us: int, hi_us: int) -> Intervals:
        """Intervals covering ``[lo_us, hi_us]`` (with the window's margin on either side)."""
        current = self._intervals
        if current is not None and current.covers(lo_us, hi_us):
            return current
        with self._lock:
            lo = lo_us - WINDOW_DAYS * DAY_US
            hi = hi_us + WINDOW_DAYS * DAY_US
            if current is not None:  # grow, never shrink: the simulator walks forward
                lo, hi = min(lo, current.lo), max(hi, current.hi)
            starts, ends = self._build(lo, hi)
            self._intervals = Intervals(starts, ends, lo, hi)
            return self._intervals

    def is_open(self, epoch_s: float) -> bool:
        t = int(epoch_s * US)
        return bool(self.intervals(t, t).open_mask(np.array([t], dtype=np.int64))[0])

    def open_mask(self, ts_us: I64) -> npt.NDArray[np.bool_]:
        if not len(ts_us):
            return np.zeros(0, dtype=np.bool_)
        return self.intervals(int(ts_us.min()), int(ts_us.max())).open_mask(ts_us)

    def last_open(self, epoch_s: float) -> float | None:
        t = int(epoch_s * US)
        found = self.intervals(t, t).last_open_us(t)
        return None if found is None else found / US

    def trading_seconds(self, since_s: float, until_s: float) -> float:
        if until_s <= since_s:
            return 0.0
        a, b = int(since_s * US), int(until_s * US)
        cum = self.intervals(a, b).open_before(np.array([a, b], dtype=np.int64))
        return float(cum[1] - cum[0]) / US

    def trading_seconds_many(self, since_s: F64, until_s: float) -> F64:
        b = int(until_s * US)
        a = np.minimum((since_s * US).astype(np.int64), b)
        if not len(a):
            return np.zeros(0)
        iv = self.intervals(int(a.min()), b)
        cum = iv.open_before(np.append(a, b))
        return np.asarray((cum[-1] - cum[:-1]) / US, dtype=np.float64)


def exchange_builder(name: str) -> Builder:
    """Sessions, breaks, early closes and holidays of an ``exchange_calendars`` calendar.

    A window reaching past the data ``exchange_calendars`` has (before an exchange's first
    session in it) falls back to its default range (20 years back, 1 year ahead).
    """

    def build(lo_us: int, hi_us: int) -> tuple[I64, I64]:
        import exchange_calendars
        import pandas as pd

        start = pd.Timestamp(lo_us // US, unit="s").normalize()
        end = pd.Timestamp(hi_us // US, unit="s").normalize()
        with warnings.catch_warnings():  # pandas deprecations inside exchange_calendars
            warnings.simplefilter("ignore")
            try:
                cal = exchange_calendars.get_calendar(name, start=start, end=end)
            except ValueError:
                cal = exchange_calendars.get_calendar(name)
            arrays = [
                np.asarray(a, dtype=np.int64) // 1000
                for a in (
                    cal.opens_nanos,
                    cal.closes_nanos,
                    cal.break_starts_nanos,
                    cal.break_ends_nanos,
                )
            ]
        return split_breaks(*arrays)

    return build


def fx_builder(lo_us: int, hi_us: int) -> tuple[I64, I64]:
    """FX weeks, Sunday 17:00 → Friday 17:00 New York time, overlapping ``[lo_us, hi_us)``."""
    day = datetime.fromtimestamp(lo_us / US, UTC).date() - timedelta(days=7)
    sunday = day - timedelta(days=(day.weekday() + 1) % 7)
    starts, ends = [], []
    while _ny(sunday).timestamp() * US < hi_us:
        starts.append(int(_ny(sunday).timestamp()) * US)
        ends.append(int(_ny(sunday + timedelta(days=5)).timestamp()) * US)
        sunday += timedelta(days=7)
    return np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def _ny(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, FX_OPEN_HOUR, tzinfo=FX_ZONE)
