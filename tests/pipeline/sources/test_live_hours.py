"""Live sources take their stall-detection hours from the one trading-hours model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.sources.live import live_asset_class
from pipeline.sources.live import live_market as market_of
from tickwatch.market_hours import CalendarNameError
from tickwatch.settings import IngestSettings, Settings, SourceCredentials, TradingHoursSettings


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def settings(source: str, **kw: object) -> Settings:
    return Settings(
        _env_file=None,
        ingest=IngestSettings(source=source, symbol_list="X"),
        **kw,  # type: ignore[arg-type]
    )


def test_each_feed_follows_its_asset_class_calendar() -> None:
    assert live_asset_class(settings("binance")) == "crypto"
    assert live_asset_class(settings("alpaca")) == "equity"
    crypto_alpaca = settings("alpaca", sources=SourceCredentials(alpaca_feed="crypto"))
    assert live_asset_class(crypto_alpaca) == "crypto"
    saturday = at("2026-11-21T15:00:00")
    assert market_of(settings("coinbase")).is_open(saturday)
    assert not market_of(settings("polygon")).is_open(saturday)
    tokyo = settings("alpaca", hours=TradingHoursSettings(calendars="equity=XTKS"))
    assert market_of(tokyo).is_open(at("2026-11-24T02:00:00"))  # 11:00 JST
    assert not market_of(tokyo).is_open(at("2026-11-24T03:00:00"))  # lunch


def test_a_bad_calendar_is_refused_naming_the_key() -> None:
    bad = settings("alpaca", hours=TradingHoursSettings(calendars="equity=XNOPE"))
    with pytest.raises(CalendarNameError, match=r"hours\.calendars 'XNOPE'"):
        market_of(bad)
