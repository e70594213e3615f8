"""When a market is open, so a closed market never raises a freshness alert.

Equities, ETFs and indices follow one exchange calendar (``monitor.equity_calendar``, XNYS by
default: sessions, early closes and holidays from exchange_calendars); crypto and FX trade around
the clock. :meth:`MarketHours.open_since` answers "is this asset class trading now, and since when
has it been trading without a break", which is what freshness needs: data cannot be older than
the market's own open time and still be late.
"""

from __future__ import annotations

import warnings
from typing import Any

from monitor.errors import MonitorConfigError

CALENDAR_CLASSES = frozenset({"equity", "etf", "index"})


class MarketHours:
    """Trading-hours oracle for asset classes; the calendar is loaded on first use.

    Raises MonitorConfigError at construction when ``calendar_name`` is not a known calendar.
    """

    def __init__(self, calendar_name: str) -> None:
        import exchange_calendars as xcals

        if calendar_name not in xcals.get_calendar_names(include_aliases=True):
            raise MonitorConfigError(
                f"TICKWATCH_MONITOR_EQUITY_CALENDAR={calendar_name!r}: not a known calendar "
                "(exchange_calendars names such as XNYS, XLON, XTKS)"
            )
        self._name = calendar_name
        self._cal: Any = None

    def _calendar(self, minute: Any) -> Any:
        """The calendar, (re)built to span ``minute`` with a year to spare on either side."""
        cal = self._cal
        if cal is not None and cal.first_minute <= minute <= cal.last_minute:
            return cal
        import exchange_calendars as xcals
        import pandas as pd

        # exchange_calendars 4.13 trips pandas 3.1's deprecation of tz-dropping ``.values``;
        # harmless for us, and noisy in every freshness run
        warnings.filterwarnings("ignore", message=r".*drops timezone information.*")
        day = minute.tz_convert(None).normalize()
        self._cal = xcals.get_calendar(
            self._name, start=day - pd.Timedelta(days=370), end=day + pd.Timedelta(days=370)
        )
        return self._cal

    def open_since(self, asset_class: str, now: float) -> float | None:
        """Epoch seconds the current trading session (or session part) opened; None if closed.

        Asset classes outside ``CALENDAR_CLASSES`` trade continuously: the answer is -inf.
        Not thread-safe; each :class:`FreshnessCheck` owns one (checks never overlap themselves).
        """
        if asset_class not in CALENDAR_CLASSES:
            return float("-inf")
        import pandas as pd

        minute = pd.Timestamp(now, unit="s", tz="UTC").floor("min")
        cal = self._calendar(minute)
        if not cal.is_open_on_minute(minute, ignore_breaks=False):
            return None
        return float(cal.previous_open(minute + pd.Timedelta(minutes=1)).timestamp())

    def describe(self, asset_class: str) -> str:
        return self._name if asset_class in CALENDAR_CLASSES else "24/7"
