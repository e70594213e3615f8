"""Backoff, sequence tracking, wire parsing, symbols and market hours, each on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.sources.live.errors import FatalFeedError
from pipeline.sources.live.sequence import SequenceCheck, SequenceTracker
from pipeline.sources.live.symbols import load_symbols
from pipeline.sources.live.wire import WireError, decimal_text, millis_us, rfc3339_us
from tickwatch.backoff import Attempts, Backoff
from tickwatch.market_hours import TradingHours
from tickwatch.settings import IngestSettings


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    draws = iter([1.0, 1.0, 1.0, 1.0, 0.25, 0.0])
    backoff = Attempts(Backoff(1.0, 5.0, jitter=lambda: next(draws)))
    assert [backoff.next_delay() for _ in range(4)] == [1.0, 2.0, 4.0, 5.0]
    assert backoff.next_delay() == 1.25  # 0.25 of the capped 5.0
    backoff.reset()
    assert backoff.attempt == 0 and backoff.ceiling() == 1.0
    assert backoff.next_delay() == 0.0


def test_backoff_rejects_nonsense_bounds() -> None:
    with pytest.raises(ValueError, match="initial_s"):
        Backoff(2.0, 1.0)


def test_contiguous_sequence_reports_gaps_and_stale_values() -> None:
    tracker = SequenceTracker(contiguous=True)
    assert tracker.check("BTC", 5) == SequenceCheck()
    assert tracker.check("BTC", 6) == SequenceCheck(expected=6)
    assert tracker.check("BTC", 9) == SequenceCheck(missing=2, expected=7)
    assert tracker.check("BTC", 9).stale
    assert tracker.check("ETH", 1) == SequenceCheck()  # keys are independent
    tracker.reset()
    assert not tracker.check("BTC", 1).stale


def test_increasing_sequence_only_flags_stale_values() -> None:
    tracker = SequenceTracker(contiguous=False)
    tracker.check("MSFT", 10)
    assert tracker.check("MSFT", 50) == SequenceCheck()
    assert tracker.check("MSFT", 49).stale


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2021-02-22T15:51:44.208Z", 1614009104208000),
        ("2021-02-22T15:51:45.335689322Z", 1614009105335689),  # ns truncated, not rounded
        ("2021-02-22T19:15:00Z", 1614021300000000),
        ("2014-11-07T08:19:27.028459Z", 1415348367028459),
        ("2021-02-22T10:51:44.999999999-05:00", 1614009104999999),
    ],
)
def test_rfc3339_to_microseconds(text: str, micros: int) -> None:
    assert rfc3339_us(text) == micros


@pytest.mark.parametrize("bad", ["2021-02-22", "2021-02-22T15:51:44", 1614009104, None, "x"])
def test_rfc3339_rejects_other_shapes(bad: object) -> None:
    with pytest.raises(WireError):
        rfc3339_us(bad)


def test_numbers_from_the_wire() -> None:
    assert millis_us(1536036818784) == 1536036818784000
    assert decimal_text("0.00100000") == 0.001
    assert decimal_text("30000.12345678") == 30000.12345678
    for bad in ("NaN", "Infinity", "1,5", 1.5, None):
        with pytest.raises(WireError):
            decimal_text(bad)
    with pytest.raises(WireError):
        millis_us(True)


def test_symbols_from_list_win_and_are_normalised() -> None:
    ingest = IngestSettings(symbol_list=" aapl, MSFT ,,aapl", symbols_file=Path("/nonexistent"))
    assert load_symbols(ingest) == ["AAPL", "MSFT"]


def test_symbols_from_csv_skip_header_comments_and_blanks(tmp_path: Path) -> None:
    path = tmp_path / "symbols.csv"
    path.write_text("symbol,name\n# crypto\nBTC-USD,Bitcoin\n\neth-usd,Ether\n", encoding="utf-8")
    assert load_symbols(IngestSettings(symbols_file=path)) == ["BTC-USD", "ETH-USD"]


def test_no_symbols_is_a_fatal_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(FatalFeedError, match="SYMBOL_LIST"):
        load_symbols(IngestSettings())
    with pytest.raises(FatalFeedError, match="symbols file"):
        load_symbols(IngestSettings(symbols_file=tmp_path / "missing.csv"))


def test_crypto_never_closes() -> None:
    assert TradingHours().calendar("crypto").is_open(1763800000.0)


def test_equity_hours_follow_the_exchange_calendar() -> None:
    nyse = TradingHours().calendar("equity")
    assert nyse.is_open(1763739000.0)  # Fri 2025-11-21 15:30 UTC = 10:30 New York
    assert not nyse.is_open(1763825400.0)  # Sat 2025-11-22 15:30 UTC
    assert not nyse.is_open(1763686800.0)  # Fri 2025-11-21 01:00 UTC, overnight
