"""Freshness per symbol and source, judged in trading time, grouped per record type/asset class."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.checks.freshness import FreshnessCheck
from monitor.checks.freshness_grade import Limits
from pipeline.sources.expected import expected_symbols
from tickwatch.clock import ManualClock
from tickwatch.market_hours import TradingHours
from tickwatch.settings import IngestSettings, Settings
from tickwatch.types import CheckResult, ExpectedSymbol, Status

from .activity_fake import ActivityTables

HOURS = TradingHours(exchanges="XTKS=XTKS")
LIMITS = Limits(warn_s=60, crit_s=300)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def check(
    tables: ActivityTables,
    clock: ManualClock,
    expected: list[ExpectedSymbol] | None = None,
    limits: Limits = LIMITS,
) -> FreshnessCheck:
    return FreshnessCheck(tables.handle(), "market", HOURS, expected or [], limits=limits,
                          interval_s=10, clock=clock)  # fmt: skip


def run_at(now: str, newest: dict[str, tuple[str, float]]) -> dict[str, CheckResult]:
    """Run at ``now`` with one trade per symbol: ``{symbol: (asset class, event time)}``."""
    tables = ActivityTables()
    for symbol, (asset_class, when) in newest.items():
        tables.add(symbol, when, asset_class=asset_class)
    return {r.target: r for r in check(tables, ManualClock(at(now))).run()}


def test_open_market_with_a_stale_symbol_is_crit_and_names_it() -> None:
    # Tuesday 2026-11-24 16:00 UTC = 11:00 New York, a regular session
    got = run_at(
        "2026-11-24T16:00:00",
        {
            "AAPL": ("equity", at("2026-11-24T15:50:00")),
            "MSFT": ("equity", at("2026-11-24T15:59:50")),
        },
    )["trades/equity"]
    assert got.status is Status.CRIT and got.value == 600
    assert "1 of 2 symbols stale" in got.message and "AAPL [simulator] 600s" in got.message
    assert "MSFT" not in got.message


def test_one_dead_symbol_alerts_even_when_the_rest_of_its_class_is_fresh() -> None:
    fresh = {f"S{i}": ("crypto", at("2026-11-24T15:59:59")) for i in range(50)}
    got = run_at("2026-11-24T16:00:00", fresh | {"DEAD": ("crypto", at("2026-11-24T15:00"))})
    assert got["trades/crypto"].status is Status.CRIT
    assert "1 of 51 symbols stale" in got["trades/crypto"].message


def test_thanksgiving_holiday_never_alerts_on_equities_but_crypto_still_does() -> None:
    got = run_at(
        "2026-11-26T16:00:00",
        {
            "AAPL": ("equity", at("2026-11-25T20:59:00")),
            "BTC/USD": ("crypto", at("2026-11-26T15:00")),
        },
    )
    assert got["trades/equity"].status is Status.OK
    assert "market closed (XNYS)" in got["trades/equity"].message
    assert got["trades/crypto"].status is Status.CRIT


def test_weekend_never_alerts_on_equities_etfs_or_indices_and_fx_is_closed_too() -> None:
    friday_close = at("2026-11-20T21:00:00")
    got = run_at(
        "2026-11-21T15:00:00",
        {"AAPL": ("equity", friday_close), "SPY": ("etf", friday_close),
         "SPX": ("index", friday_close), "EUR/USD": ("fx", at("2026-11-20T21:59:00"))},
    )  # fmt: skip
    assert {r.status for r in got.values()} == {Status.OK}
    assert "market closed (FX)" in got["trades/fx"].message


def test_just_after_the_open_staleness_counts_from_the_open_not_from_friday() -> None:
    last = {"AAPL": ("equity", at("2026-11-20T21:00:00"))}
    assert run_at("2026-11-23T14:30:30", last)["trades/equity"].status is Status.OK
    assert run_at("2026-11-23T14:32:00", last)["trades/equity"].status is Status.WARN


def test_after_the_tokyo_lunch_break_the_last_morning_trade_is_not_an_hour_old() -> None:
    tables = ActivityTables()
    tables.add("7203", at("2026-11-24T02:29:58"), exchange="XTKS")  # 11:29:58 JST
    clock = ManualClock(at("2026-11-24T03:30:30"))  # 12:30:30 JST, 30 s after lunch
    (got,) = check(tables, clock).run()
    assert got.status is Status.OK and got.value == 32


def test_a_rarely_traded_symbol_gets_limits_scaled_by_its_own_gaps() -> None:
    tables = ActivityTables()
    start = at("2026-11-24T14:30:00")
    for i in range(20):  # a trade every 10 minutes of the session, the last at 17:40
        tables.add("RARE", start + 600 * i)
    for i in range(1000):  # and a busy one, every 6 s until 16:10
        tables.add("BUSY", start + 6 * i)
    clock = ManualClock(at("2026-11-24T17:49:00"))  # RARE quiet for 9 min, BUSY for 1h
    (got,) = check(tables, clock).run()
    assert got.status is Status.CRIT
    assert "BUSY" in got.message and "RARE" not in got.message
    clock.set(at("2026-11-24T19:25:00"))  # RARE: 105 min > 10 gaps
    (later,) = check(tables, clock).run()
    assert "RARE [simulator] 6300s (limit 6000s)" in later.message


def test_a_feed_that_never_delivered_alerts_in_session_and_waits_while_closed() -> None:
    expected = [
        ExpectedSymbol("alpaca", "AAPL", "equity"),
        ExpectedSymbol("alpaca", "MSFT", "equity"),
    ]
    clock = ManualClock(at("2026-11-24T16:00:00"))
    freshness = check(ActivityTables(), clock, expected)
    (first,) = freshness.run()
    assert first.target == "trades/equity" and first.status is Status.OK
    clock.advance(301)
    (late,) = freshness.run()
    assert late.status is Status.CRIT
    assert "AAPL [alpaca] never delivered" in late.message and "2 of 2" in late.message
    night = check(ActivityTables(), ManualClock(at("2026-11-25T03:00:00")), expected)
    assert night.run()[0].status is Status.OK


def test_configured_and_delivered_symbols_match_across_vendor_spellings() -> None:
    tables = ActivityTables()
    tables.add("BTC-USD", at("2026-11-24T15:59:59"), asset_class="crypto", source="coinbase")
    expected = [ExpectedSymbol("coinbase", "BTC/USD", "crypto")]
    (got,) = check(tables, ManualClock(at("2026-11-24T16:00:00")), expected).run()
    assert got.status is Status.OK and got.message.startswith("1 symbols fresh")


def test_a_symbol_silent_for_weeks_stays_watched_and_never_resolves_falsely() -> None:
    tables = ActivityTables()
    tables.add("BTC/USD", at("2026-10-01T12:00:00"), asset_class="crypto")
    (got,) = check(tables, ManualClock(at("2026-11-24T16:00:00"))).run()
    assert got.target == "trades/crypto" and got.status is Status.CRIT


def test_a_dead_vendor_shows_in_the_per_source_counts() -> None:
    tables = ActivityTables()
    for i in range(3):
        tables.add(f"A{i}", at("2026-11-24T15:00:00"), source="alpaca")
        tables.add(f"P{i}", at("2026-11-24T15:59:59"), source="polygon")
    (got,) = check(tables, ManualClock(at("2026-11-24T16:00:00"))).run()
    assert got.status is Status.CRIT
    assert "3 of 6 symbols stale (XNYS; alpaca 3/3 stale, polygon 0/3 stale)" in got.message


def test_many_stale_symbols_are_one_result_listing_them() -> None:
    tables = ActivityTables()
    for i in range(30):
        tables.add(f"S{i:02d}", at("2026-11-24T15:00:00") + i, asset_class="crypto")
    limits = Limits(warn_s=60, crit_s=300, list_max=5)
    results = check(tables, ManualClock(at("2026-11-24T16:00:00")), limits=limits).run()
    assert [r.target for r in results] == ["trades/crypto"]
    assert "30 of 30 symbols stale" in results[0].message and "and 25 more" in results[0].message
    assert results[0].message.index("S00") < results[0].message.index("S04")  # oldest first


def test_bars_are_fresh_until_the_next_bar_is_overdue() -> None:
    tables = ActivityTables()
    start = at("2026-11-24T15:58:00")
    tables.add("BTC/USD", start, asset_class="crypto", record_type="bars", fresh_as_of=start + 120)
    (got,) = check(tables, ManualClock(at("2026-11-24T16:00:30"))).run()
    assert got.target == "bars/crypto" and got.status is Status.OK


def test_expected_symbols_come_from_the_source_configuration() -> None:
    sim = expected_symbols(Settings(_env_file=None, ingest=IngestSettings(symbols=5)))
    assert [e.source for e in sim] == ["simulator"] * 5
    assert {e.asset_class for e in sim} >= {"equity", "crypto", "fx"}
    live = Settings(_env_file=None, ingest=IngestSettings(source="binance", symbol_list="btcusdt"))
    assert expected_symbols(live) == [ExpectedSymbol("binance", "BTCUSDT", "crypto")]
    replay = Settings(_env_file=None, ingest=IngestSettings(source="replay"))
    assert expected_symbols(replay) == []
