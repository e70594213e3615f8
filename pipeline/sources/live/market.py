"""Is the source's market open? Decides whether silence on a connection is a stall.

Crypto venues trade around the clock. US equities trade in the regular session of an exchange
calendar (``exchange_calendars``, XNYS by default); outside it a quiet connection is normal, so
the stall detector waits instead of reconnecting.
"""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd


class MarketHours(Protocol):
    """Answers whether data is expected at an instant."""

    def is_open(self, epoch_s: float) -> bool:
        """True when the market trades at ``epoch_s`` (Unix seconds, UTC)."""
        ...


class AlwaysOpen:
    """A market that never closes (crypto)."""

    def is_open(self, epoch_s: float) -> bool:
        return True


class ExchangeHours:
    """Regular trading minutes of an ``exchange_calendars`` calendar (e.g. ``XNYS``).

    The calendar loads on first use (about a second). Instants outside the calendar's range
    count as open: a stall detector that reconnects once too often is cheaper than one that
    never reconnects.
    """

    def __init__(self, calendar_name: str = "XNYS") -> None:
        self._name = calendar_name
        self._calendar: Any = None

    def is_open(self, epoch_s: float) -> bool:
        calendar = self._load()
        minute = pd.Timestamp(int(epoch_s), unit="s", tz="UTC").floor("min")
        if not calendar.first_minute <= minute <= calendar.last_minute:
            return True
        return bool(calendar.is_open_on_minute(minute))

    def _load(self) -> Any:
        if self._calendar is None:
            import exchange_calendars

            self._calendar = exchange_calendars.get_calendar(self._name)
        return self._calendar
