"""Maintenance windows: weekly mutes, and their small text syntax.

``alerts.maintenance_windows`` — entries separated by ``;``::

    DAYS HH:MM-HH:MM TZ [MATCHER]

DAYS is ``daily``, a day (``Sat``), a range (``Mon-Fri``) or a list (``Sat,Sun``); TZ is an IANA
zone (``UTC``, ``America/New_York``); MATCHER defaults to ``*``. An end at or before the start
crosses midnight and belongs to the start day (``Fri 22:00-02:00 UTC`` covers Sat 01:00);
``24:00`` means the end of the day.

MATCHER is a glob over the alert key ``check/target``, as for silences (``silences.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.errors import SilenceSyntaxError
from alerts.silences import entries

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WINDOW = re.compile(
    r"^(?P<d>\S+)\s+(?P<a>\d{1,2}:\d{2})-(?P<b>\d{1,2}:\d{2})\s+(?P<tz>\S+)"
    r"(?:\s+(?P<m>\S+))?$"
)


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A weekly window: ``days`` (0 = Monday), minutes from local midnight, a time zone."""

    days: frozenset[int]
    start_min: int
    end_min: int
    tz: str
    matcher: str = "*"

    def active(self, key: str, now: float) -> bool:
        if not fnmatchcase(key, self.matcher):
            return False
        local = datetime.fromtimestamp(now, tz=ZoneInfo(self.tz))
        minute, day = local.hour * 60 + local.minute, local.weekday()
        if self.start_min < self.end_min:
            return day in self.days and self.start_min <= minute < self.end_min
        return (day in self.days and minute >= self.start_min) or (
            (day - 1) % 7 in self.days and minute < self.end_min
        )


def parse_windows(spec: str) -> list[MaintenanceWindow]:
    """Parse ``alerts.maintenance_windows``. Raises SilenceSyntaxError."""
    out = []
    for entry in entries(spec):
        m = _WINDOW.match(entry)
        if not m:
            raise SilenceSyntaxError(
                f"TICKWATCH_ALERTS_MAINTENANCE_WINDOWS: {entry!r}: expected "
                "'DAYS HH:MM-HH:MM TZ [MATCHER]'"
            )
        try:
            ZoneInfo(m["tz"])
        except (ZoneInfoNotFoundError, ValueError):
            raise SilenceSyntaxError(f"{entry!r}: unknown time zone {m['tz']!r}") from None
        out.append(
            MaintenanceWindow(
                _days(m["d"], entry),
                _minutes(m["a"], entry),
                _minutes(m["b"], entry),
                m["tz"],
                m["m"] or "*",
            )
        )
    return out


def _minutes(hhmm: str, entry: str) -> int:
    hours, minutes = (int(x) for x in hhmm.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise SilenceSyntaxError(f"{entry!r}: bad time of day {hhmm!r}")
    return hours * 60 + minutes


def _days(text: str, entry: str) -> frozenset[int]:
    text = text.lower()
    if text == "daily":
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first[:3] not in DAYS or (last and last[:3] not in DAYS):
            raise SilenceSyntaxError(f"{entry!r}: bad day {part!r} (Mon..Sun, daily)")
        a, b = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(days)
