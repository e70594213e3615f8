"""Vendor tickers -> asset class and canonical instrument; which part of a trades request runs."""

from __future__ import annotations

import pytest

from pipeline.backfill.errors import BackfillConfigError
from pipeline.backfill.gaps import GAP_SETTLE_S
from pipeline.backfill.interval import US, Span
from pipeline.backfill.symbols import Instrument, alpaca, of, polygon
from pipeline.backfill.trades_window import trade_spans
from pipeline.codec import AssetClass

C, F, E = AssetClass.CRYPTO, AssetClass.FX, AssetClass.EQUITY


@pytest.mark.parametrize(
    ("ticker", "expected"),
    [
        ("X:BTCUSD", Instrument("X:BTCUSD", C, "BTC/USD")),
        ("X:ETHBTC", Instrument("X:ETHBTC", C, "ETH/BTC")),
        ("X:SOLUSDT", Instrument("X:SOLUSDT", C, "SOL/USDT")),  # USDT is not USD
        ("X:FOOBAR", Instrument("X:FOOBAR", C, "FOOBAR")),  # no known quote: no guessed split
        ("C:EURUSD", Instrument("C:EURUSD", F, "EUR/USD")),
        ("AAPL", Instrument("AAPL", E, "AAPL")),
        ("BRK.B", Instrument("BRK.B", E, "BRK.B")),
    ],
)
def test_polygon_tickers(ticker: str, expected: Instrument) -> None:
    assert polygon(ticker) == expected


def test_alpaca_symbols() -> None:
    assert alpaca("BTC/USD") == Instrument("BTC/USD", C, "BTC/USD")
    assert alpaca("AAPL") == Instrument("AAPL", E, "AAPL")


def test_either_spelling_says_the_asset_class() -> None:
    assert [of(s).asset_class for s in ("X:ETHUSD", "C:GBPJPY", "ETH/USD", "MSFT")] == [C, F, C, E]


NOW_S = 1_796_000_000.0
WEEK_S = 7 * 86_400.0


def test_trades_end_before_the_settle_time_and_spans_after_it_are_dropped() -> None:
    now_us = int(NOW_S * US)
    newest = now_us - GAP_SETTLE_S * US
    spans = [Span(now_us - 3_600 * US, now_us), Span(newest + 1, now_us)]
    assert trade_spans(spans, WEEK_S, NOW_S) == [Span(now_us - 3_600 * US, newest)]


def test_trades_older_than_the_load_workers_max_past_are_refused_naming_the_setting() -> None:
    old = int((NOW_S - WEEK_S - 60) * US)
    with pytest.raises(BackfillConfigError) as caught:
        trade_spans([Span(old, old + US)], WEEK_S, NOW_S)
    assert "load.max_past_s" in str(caught.value) and "too_old" in str(caught.value)


@pytest.mark.parametrize(
    ("symbol", "what", "first", "named"),
    [
        ("X:BTCUSD", "trades", "2026-11-30", "US stocks only"),
        ("AAPL", "quotes", "2026-11-30", "--what 'quotes'"),
        ("AAPL", "trades", "2020-01-02", "load.max_past_s"),
    ],
)
def test_a_bad_trades_request_stops_before_any_service_with_exit_2(
    symbol: str, what: str, first: str, named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.backfill.cli import run_backfill
    from pipeline.backfill.interval import span
    from tickwatch.settings import Settings

    code = run_backfill(
        Settings(), None, source="polygon", symbols=[symbol], spans=[span(first, first)],
        interval="1m", what=what,
    )  # fmt: skip
    assert code == 2
    assert named in capsys.readouterr().err.replace("\n", " ")
