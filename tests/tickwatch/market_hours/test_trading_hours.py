"""The trading-hours model: DST, early closes, holidays, lunch breaks, the FX week, crypto."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from tickwatch.market_hours import CalendarNameError, InstrumentHours, TradingHours

HOURS = TradingHours(exchanges="XTKS=XTKS,XHKG=XHKG")
NYSE = HOURS.calendar("equity")
TOKYO = HOURS.calendar("equity", "XTKS")
HONG_KONG = HOURS.calendar("equity", "XHKG")
FX = HOURS.calendar("fx")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_us_dst_start_2026_03_08_moves_the_open_an_hour_earlier_in_utc() -> None:
    assert not NYSE.is_open(at("2026-03-06T14:29:59"))  # Friday, EST: 09:30 = 14:30 UTC
    assert NYSE.is_open(at("2026-03-06T14:30:00"))
    assert NYSE.is_open(at("2026-03-09T13:30:00"))  # Monday, EDT: 09:30 = 13:30 UTC
    assert not NYSE.is_open(at("2026-03-09T20:00:00"))  # 16:00 EDT close


def test_us_dst_end_2026_11_01_moves_the_open_an_hour_later_in_utc() -> None:
    assert NYSE.is_open(at("2026-10-30T13:30:00"))  # Friday, EDT
    assert not NYSE.is_open(at("2026-11-02T13:30:00"))  # Monday, EST
    assert NYSE.is_open(at("2026-11-02T14:30:00"))
    assert NYSE.is_open(at("2026-11-02T20:59:59")) and not NYSE.is_open(at("2026-11-02T21:00"))


def test_early_close_on_2026_11_27_and_last_open_is_that_close() -> None:
    assert NYSE.is_open(at("2026-11-27T17:59:59"))  # 12:59 New York
    assert not NYSE.is_open(at("2026-11-27T18:00:00"))  # 13:00 early close
    assert NYSE.last_open(at("2026-11-27T19:00:00")) == at("2026-11-27T18:00:00")


def test_thanksgiving_2026_11_26_is_closed_all_day() -> None:
    for hour in range(24):
        assert not NYSE.is_open(at(f"2026-11-26T{hour:02d}:30:00"))
    assert NYSE.last_open(at("2026-11-26T16:00:00")) == at("2026-11-25T21:00:00")


def test_monday_after_a_holiday_counts_trading_time_from_the_last_close() -> None:
    # Good Friday 2026-04-03 closed; Thursday's close to 30 s after Monday's open is 30 s
    assert not NYSE.is_open(at("2026-04-03T15:00:00"))
    since_close = NYSE.trading_seconds(at("2026-04-02T20:00:00"), at("2026-04-06T13:30:30"))
    assert since_close == 30.0


def test_tokyo_lunch_break_ends_the_latest_interval_at_11_30() -> None:
    # XTKS 2026: 09:00-11:30 and 12:30-15:30 JST = 00:00-02:30 and 03:30-06:30 UTC
    assert TOKYO.is_open(at("2026-11-24T02:29:59"))
    assert not TOKYO.is_open(at("2026-11-24T03:00:00"))
    assert TOKYO.last_open(at("2026-11-24T03:00:00")) == at("2026-11-24T02:30:00")
    assert TOKYO.is_open(at("2026-11-24T03:30:00"))
    # the last trade before lunch is 30 s old 30 s after lunch, not an hour and 30 s
    assert TOKYO.trading_seconds(at("2026-11-24T02:30:00"), at("2026-11-24T03:30:30")) == 30.0


def test_hong_kong_lunch_break() -> None:
    # XHKG: 09:30-12:00 and 13:00-16:00 HKT = 01:30-04:00 and 05:00-08:00 UTC
    assert HONG_KONG.is_open(at("2026-11-24T03:59:59"))
    assert not HONG_KONG.is_open(at("2026-11-24T04:30:00"))
    assert HONG_KONG.last_open(at("2026-11-24T04:30:00")) == at("2026-11-24T04:00:00")
    assert HONG_KONG.trading_seconds(at("2026-11-24T03:59:00"), at("2026-11-24T05:01:00")) == 120


@pytest.mark.parametrize(
    ("friday_close", "sunday_open"),
    [
        ("2026-03-06T22:00:00", "2026-03-08T21:00:00"),  # closes in EST, reopens in EDT
        ("2026-10-30T21:00:00", "2026-11-01T22:00:00"),  # closes in EDT, reopens in EST
        ("2026-11-20T22:00:00", "2026-11-22T22:00:00"),
    ],
)
def test_fx_weekend_is_friday_17_00_to_sunday_17_00_new_york(
    friday_close: str, sunday_open: str
) -> None:
    close, reopen = at(friday_close), at(sunday_open)
    assert FX.is_open(close - 1) and not FX.is_open(close)
    assert not FX.is_open(close + 86_400)  # Saturday
    assert not FX.is_open(reopen - 1) and FX.is_open(reopen)
    assert FX.last_open(reopen - 1) == close
    assert FX.trading_seconds(close - 10, reopen + 10) == 20.0


def test_crypto_never_closes() -> None:
    crypto = HOURS.calendar("crypto")
    assert crypto.is_open(at("2026-11-26T03:00:00")) and crypto.is_open(at("2026-11-21T12:00"))
    assert crypto.trading_seconds(at("2026-11-21T00:00"), at("2026-11-22T00:00")) == 86_400


def test_vectorised_mask_agrees_with_the_scalar_answer() -> None:
    rng = np.random.default_rng(7)
    seconds = rng.uniform(at("2026-02-20T00:00"), at("2026-12-10T00:00"), 3000).astype(np.int64)
    for calendar in (NYSE, TOKYO, HONG_KONG, FX):
        mask = calendar.open_mask(seconds * 1_000_000)
        assert mask.tolist() == [calendar.is_open(float(s)) for s in seconds]


def test_instrument_hours_pick_a_calendar_per_exchange_then_per_class() -> None:
    instruments = InstrumentHours(
        HOURS, ["equity", "equity", "fx", "crypto"], ["XNYS", "XTKS", "", ""]
    )
    tuesday_11_00_tokyo = int(at("2026-11-24T02:00:00") * 1e6)  # Tuesday 11:00 JST
    ts = np.full(4, tuesday_11_00_tokyo, dtype=np.int64)
    assert instruments.open_mask(ts, np.arange(4)).tolist() == [False, True, True, True]
    always = InstrumentHours(None, ["equity"], ["XNYS"])
    assert always.open_mask(ts[:1], np.zeros(1, dtype=np.int64)).tolist() == [True]


def test_bad_settings_name_the_key() -> None:
    with pytest.raises(CalendarNameError, match=r"hours\.calendars 'XNOPE'"):
        TradingHours("equity=XNOPE")
    with pytest.raises(CalendarNameError, match=r"hours\.calendars: unknown asset class 'bond'"):
        TradingHours("bond=XNYS")
    with pytest.raises(CalendarNameError, match=r"hours\.exchanges: 'XTKS' is not"):
        TradingHours(exchanges="XTKS")
    with pytest.raises(CalendarNameError, match=r"ingest\.trading_calendar 'NOPE'"):
        TradingHours().with_listed("NOPE", "ingest.trading_calendar")
