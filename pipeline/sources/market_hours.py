"""When each asset class trades: an exchange calendar for listed instruments, 24/5 for FX.

With no calendar configured everything trades all the time. With one (``XNYS`` ...), equities,
ETFs and indices trade only inside that calendar's sessions (early closes and lunch breaks
included), FX from Sunday 22:00 to Friday 22:00 UTC, and crypto always.
"""

from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt

from pipeline.sources.tickers import CLASSES, IX, C, E, F, X

US_PER_DAY = 86_400_000_000
US_PER_HOUR = 3_600_000_000
LISTED = np.array([CLASSES.index(c) for c in (E, F, IX)])
FX_CLASS = CLASSES.index(X)
CRYPTO_CLASS = CLASSES.index(C)


class CalendarNameError(ValueError):
    """``ingest.trading_calendar`` names no calendar exchange_calendars knows."""


class MarketHours:
    """Vectorised "is this instrument trading at this time" for arrays of ticks.

    Raises :class:`CalendarNameError` for an unknown calendar name.
    """

    def __init__(self, calendar: str = "") -> None:
        self.calendar = calendar
        self._sessions: tuple[npt.NDArray[np.int64], ...] = ()
        if calendar:
            import exchange_calendars

            with warnings.catch_warnings():  # pandas deprecations inside exchange_calendars
                warnings.simplefilter("ignore")
                try:
                    cal = exchange_calendars.get_calendar(calendar)
                except exchange_calendars.errors.CalendarError as exc:
                    raise CalendarNameError(
                        f"ingest.trading_calendar {calendar!r}: {exc}"
                    ) from None
                arrays = (
                    cal.opens_nanos,
                    cal.closes_nanos,
                    cal.break_starts_nanos,
                    cal.break_ends_nanos,
                )
            self._sessions = tuple(np.asarray(a, dtype=np.int64) // 1000 for a in arrays)

    def open_mask(
        self, ts_us: npt.NDArray[np.int64], cls: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.bool_]:
        """True where an instrument of class index ``cls`` trades at ``ts_us`` (epoch µs)."""
        if not self._sessions:
            return np.ones(len(ts_us), dtype=np.bool_)
        listed = np.isin(cls, LISTED)
        fx = cls == FX_CLASS
        return np.where(listed, self._in_session(ts_us), np.where(fx, _fx_open(ts_us), True))

    def _in_session(self, ts_us: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        opens, closes, break_starts, break_ends = self._sessions
        i = np.searchsorted(opens, ts_us, side="right") - 1
        j = np.clip(i, 0, len(opens) - 1)
        inside = (i >= 0) & (ts_us < closes[j])
        on_break = (break_starts[j] > 0) & (ts_us >= break_starts[j]) & (ts_us < break_ends[j])
        return inside & ~on_break


def _fx_open(ts_us: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    weekday = (ts_us // US_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    hour = (ts_us % US_PER_DAY) // US_PER_HOUR
    closed = ((weekday == 4) & (hour >= 22)) | (weekday == 5) | ((weekday == 6) & (hour < 22))
    return np.asarray(~closed, dtype=np.bool_)
