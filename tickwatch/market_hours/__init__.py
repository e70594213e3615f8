"""The one trading-hours model: when each instrument trades, for every part of tickwatch.

The simulator silences instruments whose market is closed (:meth:`Calendar.open_mask`, numpy,
many timestamps at once), the live sources treat silence as a stall only while the market is
open (:meth:`Calendar.is_open`), and the detector counts staleness in trading time only
(:meth:`Calendar.trading_seconds`), so all three agree by construction. Calendars come from
``exchange_calendars`` (sessions, lunch breaks, early closes, holidays), plus ``FX`` (24/5,
Sunday 17:00 to Friday 17:00 New York time) and ``24/7``.
"""

from tickwatch.market_hours.calendars import (
    ALWAYS,
    FX,
    AlwaysOpen,
    Calendar,
    IntervalCalendar,
    MarketOpen,
)
from tickwatch.market_hours.model import (
    ASSET_CLASSES,
    DEFAULT_CALENDARS,
    CalendarNameError,
    InstrumentHours,
    TradingHours,
    check_calendar_name,
    from_settings,
)

__all__ = [
    "ALWAYS",
    "ASSET_CLASSES",
    "DEFAULT_CALENDARS",
    "FX",
    "AlwaysOpen",
    "Calendar",
    "CalendarNameError",
    "InstrumentHours",
    "IntervalCalendar",
    "MarketOpen",
    "TradingHours",
    "check_calendar_name",
    "from_settings",
]
