"""Freshness per record type and asset class, with the equity calendar deciding what is late."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.checks.freshness import FreshnessCheck
from monitor.market_hours import MarketHours
from tickwatch.clock import ManualClock
from tickwatch.types import Status

from .monitor_fakes import FakeClickHouse

HOURS = MarketHours("XNYS")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def check_at(now: str, newest: dict[str, float]) -> dict[str, tuple[Status, str]]:
    """Run the check at ``now`` with trades' newest event per asset class; quotes/bars empty."""

    def answer(sql: str, params: dict[str, Any]) -> list[Sequence[Any]]:
        if ".trades " not in sql:
            return []
        return [
            (cls, last, ["SYM1"] if last < params["cut"] else []) for cls, last in newest.items()
        ]

    clock = ManualClock(at(now))
    check = FreshnessCheck(
        FakeClickHouse(answer), "market", HOURS, warn_s=60, crit_s=300, interval_s=10, clock=clock
    )
    return {r.target: (r.status, r.message) for r in check.run()}


def test_open_market_with_stale_equities_is_crit_and_names_symbols() -> None:
    # Tuesday 2026-11-24 16:00 UTC = 11:00 New York, a regular session
    got = check_at("2026-11-24T16:00:00", {"equity": at("2026-11-24T15:50:00")})
    status, message = got["trades/equity"]
    assert status is Status.CRIT
    assert "600s old" in message and "SYM1" in message


def test_fresh_equities_are_ok() -> None:
    got = check_at("2026-11-24T16:00:00", {"equity": at("2026-11-24T15:59:30")})
    assert got["trades/equity"][0] is Status.OK


def test_thanksgiving_holiday_never_alerts_on_equities_but_crypto_still_does() -> None:
    # Thursday 2026-11-26: NYSE closed all day; last equity trade on Wednesday
    got = check_at(
        "2026-11-26T16:00:00",
        {"equity": at("2026-11-25T20:59:00"), "crypto": at("2026-11-26T15:00:00")},
    )
    assert got["trades/equity"][0] is Status.OK
    assert "market closed" in got["trades/equity"][1]
    assert got["trades/crypto"][0] is Status.CRIT


def test_weekend_never_alerts_on_equities_etfs_or_indices() -> None:
    friday_close = at("2026-11-20T21:00:00")
    got = check_at(
        "2026-11-21T15:00:00", {"equity": friday_close, "etf": friday_close, "index": friday_close}
    )
    assert {status for status, _ in got.values()} == {Status.OK}


def test_just_after_the_open_staleness_counts_from_the_open_not_from_yesterday() -> None:
    # Monday 2026-11-23 14:30:30 UTC is 30 s after the open; the last trade was Friday's close
    got = check_at("2026-11-23T14:30:30", {"equity": at("2026-11-20T21:00:00")})
    assert got["trades/equity"][0] is Status.OK
    later = check_at("2026-11-23T14:32:00", {"equity": at("2026-11-20T21:00:00")})
    assert later["trades/equity"][0] is Status.WARN


def test_fx_and_crypto_trade_around_the_clock() -> None:
    assert HOURS.open_since("fx", at("2026-11-21T03:00:00")) == float("-inf")
    assert HOURS.open_since("equity", at("2026-11-21T03:00:00")) is None


def test_unknown_calendar_is_a_config_error() -> None:
    from monitor.errors import MonitorConfigError

    with pytest.raises(MonitorConfigError, match="EQUITY_CALENDAR"):
        MarketHours("NOPE")
