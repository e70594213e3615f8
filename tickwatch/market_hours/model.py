"""Which calendar an instrument follows: by listing exchange first, then by asset class.

``hours.calendars`` maps asset classes to calendars (``equity=XNYS,...,fx=FX,crypto=24/7``);
``hours.exchanges`` maps listing exchanges (MICs) to calendars (``XTKS=XTKS,XHKG=XHKG``).
A calendar is an ``exchange_calendars`` name (``XNYS``, ``XTKS``, ``XHKG``, ``XLON``...),
``FX`` (24/5 in New York time) or ``24/7``. The simulator, the live sources' stall detection
and the detector's freshness check all ask one :class:`TradingHours` built from these settings.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tickwatch.market_hours.calendars import (
    ALWAYS,
    FX,
    AlwaysOpen,
    Calendar,
    IntervalCalendar,
    exchange_builder,
    fx_builder,
)
from tickwatch.market_hours.intervals import I64
from tickwatch.settings import Settings

ASSET_CLASSES = ("equity", "etf", "index", "crypto", "fx")
LISTED = ("equity", "etf", "index")
DEFAULT_CALENDARS = "equity=XNYS,etf=XNYS,index=XNYS,fx=FX,crypto=24/7"


class CalendarNameError(ValueError):
    """A trading-hours setting names no calendar, or is malformed; the message names the key."""


def parse_map(text: str, key: str) -> dict[str, str]:
    """``a=B,c=D`` → ``{"a": "B", "c": "D"}``; raises :class:`CalendarNameError` naming ``key``."""
    out: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not name or not value:
            raise CalendarNameError(f"{key}: {item!r} is not NAME=CALENDAR")
        out[name] = value
    return out


class TradingHours:
    """The trading-hours model: one :class:`Calendar` per name, shared by every instrument.

    Raises :class:`CalendarNameError` at construction for an unknown asset class or calendar.
    """

    def __init__(
        self,
        calendars: str = DEFAULT_CALENDARS,
        exchanges: str = "",
        *,
        calendars_key: str = "hours.calendars",
        exchanges_key: str = "hours.exchanges",
    ) -> None:
        self.by_class = parse_map(DEFAULT_CALENDARS, calendars_key) | parse_map(
            calendars, calendars_key
        )
        self.by_exchange = parse_map(exchanges, exchanges_key)
        unknown = set(self.by_class) - set(ASSET_CLASSES)
        if unknown:
            raise CalendarNameError(
                f"{calendars_key}: unknown asset class {sorted(unknown)[0]!r}; "
                f"choose from {', '.join(ASSET_CLASSES)}"
            )
        for key, mapping in ((calendars_key, self.by_class), (exchanges_key, self.by_exchange)):
            for value in mapping.values():
                check_calendar_name(value, key)
        self._calendars: dict[str, Calendar] = {}
        self._lock = threading.Lock()

    def with_listed(self, calendar: str, key: str) -> TradingHours:
        """A copy where equities, ETFs and indices follow ``calendar`` whatever their exchange
        (the simulator's ``ingest.trading_calendar``); raises :class:`CalendarNameError`."""
        check_calendar_name(calendar, key)
        classes = {**self.by_class, **dict.fromkeys(LISTED, calendar)}
        return TradingHours(",".join(f"{k}={v}" for k, v in classes.items()))

    def calendar_name(self, asset_class: str, exchange: str = "") -> str:
        """The calendar an instrument follows: its exchange's, else its asset class's (24/7
        for a class the map does not name)."""
        if exchange and exchange in self.by_exchange:
            return self.by_exchange[exchange]
        return self.by_class.get(asset_class, ALWAYS)

    def calendar(self, asset_class: str, exchange: str = "") -> Calendar:
        """The :class:`Calendar` for an instrument (built once per calendar name)."""
        return self.named(self.calendar_name(asset_class, exchange))

    def named(self, name: str) -> Calendar:
        with self._lock:
            found = self._calendars.get(name)
            if found is None:
                found = _make(name)
                self._calendars[name] = found
            return found


def check_calendar_name(name: str, key: str) -> None:
    """Raise :class:`CalendarNameError` (naming ``key``) unless ``name`` is a calendar."""
    if name in (ALWAYS, FX):
        return
    import exchange_calendars

    if name not in exchange_calendars.get_calendar_names(include_aliases=True):
        raise CalendarNameError(
            f"{key} {name!r}: not a known calendar (exchange_calendars names such as XNYS, "
            f"XTKS, XHKG, XLON; or {FX} for 24/5 FX, {ALWAYS} for always open)"
        )


def _make(name: str) -> Calendar:
    if name == ALWAYS:
        return AlwaysOpen()
    if name == FX:
        return IntervalCalendar(FX, fx_builder)
    return IntervalCalendar(name, exchange_builder(name))


class InstrumentHours:
    """Vectorised "is instrument ``sym`` trading at ``ts``" for a fixed list of instruments.

    ``hours=None`` means every instrument always trades (the simulator without a calendar).
    """

    def __init__(
        self, hours: TradingHours | None, classes: Sequence[str], exchanges: Sequence[str]
    ) -> None:
        names = [
            hours.calendar_name(c, x) if hours else ALWAYS
            for c, x in zip(classes, exchanges, strict=True)
        ]
        used = sorted({n for n in names if n != ALWAYS})
        self._calendars = [hours.named(n) for n in used] if hours else []
        index = {n: i for i, n in enumerate(used)}
        self._of_symbol = np.array([index.get(n, -1) for n in names], dtype=np.int64)

    def open_mask(self, ts_us: I64, sym: I64) -> npt.NDArray[np.bool_]:
        """True where instrument ``sym[i]`` trades at ``ts_us[i]`` (epoch µs)."""
        out = np.ones(len(ts_us), dtype=np.bool_)
        which = self._of_symbol[sym]
        for i, calendar in enumerate(self._calendars):
            sel = which == i
            if sel.any():
                out[sel] = calendar.open_mask(ts_us[sel])
        return out


def from_settings(settings: Settings) -> TradingHours:
    """The model the settings describe; for the simulator with ``ingest.trading_calendar``
    set, listed instruments follow that calendar (as the simulator itself does)."""
    hours = TradingHours(settings.hours.calendars, settings.hours.exchanges)
    ingest = settings.ingest
    if ingest.source == "simulator" and ingest.trading_calendar:
        return hours.with_listed(ingest.trading_calendar, "ingest.trading_calendar")
    return hours
