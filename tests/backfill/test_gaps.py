"""Gaps: open-market minutes without a 1-minute bar, from the kernel's trading-hours model."""

from __future__ import annotations

from pipeline.backfill.gaps import MINUTE_US, missing_minutes
from pipeline.backfill.interval import Span, span
from tickwatch.market_hours import TradingHours

OPEN_US = 1_793_629_800_000_000  # Monday 2026-11-02 14:30 UTC = 09:30 New York
LATER = OPEN_US + 30 * 86_400_000_000
NYSE = TradingHours("", "").calendar("equity")


def session(minutes: int = 390) -> set[int]:
    return {OPEN_US + i * MINUTE_US for i in range(minutes)}


def test_a_full_session_has_no_gaps() -> None:
    assert missing_minutes(NYSE, session(), span("2026-11-02", "2026-11-02"), LATER) == []


def test_missing_minutes_come_back_as_runs() -> None:
    loaded = session() - {OPEN_US + 30 * MINUTE_US, OPEN_US + 31 * MINUTE_US}
    loaded -= {OPEN_US + 389 * MINUTE_US}
    gaps = missing_minutes(NYSE, loaded, span("2026-11-02", "2026-11-02"), LATER)
    assert gaps == [
        Span(OPEN_US + 30 * MINUTE_US, OPEN_US + 31 * MINUTE_US),
        Span(OPEN_US + 389 * MINUTE_US, OPEN_US + 389 * MINUTE_US),
    ]


def test_a_closed_market_has_no_gaps() -> None:
    weekend = span("2026-11-07", "2026-11-08")
    assert missing_minutes(NYSE, set(), weekend, LATER) == []


def test_minutes_still_settling_are_not_gaps() -> None:
    now = OPEN_US + 5 * MINUTE_US  # five minutes into the session, nothing loaded
    assert missing_minutes(NYSE, set(), span("2026-11-02", "2026-11-02"), now) == []
    now = OPEN_US + 20 * MINUTE_US
    (gap,) = missing_minutes(NYSE, set(), span("2026-11-02", "2026-11-02"), now)
    # a minute is a gap once it ended GAP_SETTLE_S (5 min) ago: 09:30..09:44 here
    assert gap == Span(OPEN_US, OPEN_US + 14 * MINUTE_US)


HOURS = TradingHours("", "")


def test_crypto_gaps_count_every_minute_of_the_weekend() -> None:
    weekend = span("2026-11-07", "2026-11-08")  # Saturday and Sunday
    gaps = missing_minutes(HOURS.calendar("crypto"), set(), weekend, LATER)
    assert gaps == [Span(weekend.lo_us, weekend.hi_us + 1 - MINUTE_US)]  # 24/7: all 2,880


def test_fx_gaps_stop_at_the_friday_close_and_start_at_the_sunday_open() -> None:
    # FX 24/5: closed Friday 17:00 to Sunday 17:00 New York (EST in November: 22:00 UTC)
    friday_close = 1_794_002_400_000_000  # 2026-11-06 22:00 UTC
    sunday_open = friday_close + 2 * 86_400_000_000
    window = Span(friday_close - 60 * MINUTE_US, sunday_open + 60 * MINUTE_US - 1)
    gaps = missing_minutes(HOURS.calendar("fx"), set(), window, LATER)
    assert gaps == [
        Span(friday_close - 60 * MINUTE_US, friday_close - MINUTE_US),
        Span(sunday_open, sunday_open + 59 * MINUTE_US),
    ]
