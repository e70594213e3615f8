"""The silence and maintenance-window syntax, and the CLI silence store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.errors import SilenceSyntaxError
from alerts.muting import Muting
from alerts.silence_store import SilenceStore
from alerts.silences import Silence, parse_duration, parse_silences
from alerts.windows import parse_windows


def ts(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def test_silence_with_and_without_start() -> None:
    a, b = parse_silences(
        "freshness/* until 2026-11-22T08:00Z; heartbeat/load from 2026-11-21 10:00+01:00 "
        "until 2026-11-21T12:00"
    )
    assert a.active("freshness/trades/equity", ts(2026, 11, 21, 0, 0))
    assert not a.active("freshness/trades/equity", ts(2026, 11, 22, 8, 0))
    assert not a.active("heartbeat/load", ts(2026, 11, 21, 0, 0))
    assert b.starts == ts(2026, 11, 21, 9, 0) and b.ends == ts(2026, 11, 21, 12, 0)


def test_window_crossing_midnight_belongs_to_its_start_day() -> None:
    (w,) = parse_windows("Fri 22:00-02:00 UTC")
    assert w.active("x/y", ts(2026, 11, 20, 23, 0))  # Friday night
    assert w.active("x/y", ts(2026, 11, 21, 1, 59))  # early Saturday
    assert not w.active("x/y", ts(2026, 11, 21, 22, 30))  # Saturday night
    assert not w.active("x/y", ts(2026, 11, 19, 1, 0))  # early Thursday


def test_window_in_a_local_time_zone_and_day_ranges() -> None:
    (w,) = parse_windows("Mon-Fri 09:00-09:30 America/New_York freshness/*")
    assert w.days == frozenset(range(5))
    assert w.active("freshness/trades/equity", ts(2026, 11, 24, 14, 15))  # 09:15 EST
    assert not w.active("latency_p99/market.trades", ts(2026, 11, 24, 14, 15))
    (sunday_to_monday,) = parse_windows("Sun-Mon 00:00-24:00 UTC")
    assert sunday_to_monday.days == frozenset({6, 0})


@pytest.mark.parametrize(
    ("spec", "parser"),
    [
        ("freshness/* for 2h", parse_silences),
        ("x until yesterday", parse_silences),
        ("Caturday 00:00-01:00 UTC", parse_windows),
        ("Mon 25:00-26:00 UTC", parse_windows),
        ("Mon 01:00-02:00 Mars/Olympus", parse_windows),
        ("Mon 01:00-02:00", parse_windows),
    ],
)
def test_bad_specs_are_rejected_with_the_entry(spec: str, parser: object) -> None:
    with pytest.raises(SilenceSyntaxError, match="'"):
        parser(spec)  # type: ignore[operator]


def test_durations() -> None:
    assert parse_duration("1h30m").total_seconds() == 5400
    assert parse_duration("90s").total_seconds() == 90
    with pytest.raises(SilenceSyntaxError):
        parse_duration("2 hours")


def test_store_add_list_remove_and_muting_reads_it(tmp_path: Path) -> None:
    store = SilenceStore(tmp_path)
    now = ts(2026, 11, 21, 6, 0)
    stored = store.add(Silence("consumer_lag/*", now, now + 3600, "deploy"), now)
    muting = Muting([], [], SilenceStore(tmp_path))
    assert muting.reason("consumer_lag/g/t", now + 10) == f"silence {stored.id} (consumer_lag/*)"
    assert muting.reason("freshness/trades/fx", now + 10) is None
    assert store.remove(stored.id, now + 20)
    assert not store.remove(stored.id, now + 20)
    assert muting.reason("consumer_lag/g/t", now + 30) is None
