"""A simulated week per calendar through the real freshness check and alert state machine.

The simulator (following the trading-hours model) feeds an in-memory stand-in of the activity
tables; every ``CHECK_S`` of simulated time the real :class:`FreshnessCheck` runs and its
results go through the real :class:`Detector` (alert book, notifier, outbox queue). Each week
holds weekends, holidays, lunch breaks, an early close or a DST change, plus one in-session
stall of the whole feed: the only emails of the week must be that stall's, and the first must
be queued within the detection budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alerts.render import Notification
from monitor.build_checks import build_freshness
from monitor.build_detector import build_detector
from pipeline.codec import Bar, Quote, Trade
from pipeline.sources.expected import expected_symbols
from pipeline.sources.simulator import Simulator
from tickwatch.clock import ManualClock
from tickwatch.market_hours import TradingHours
from tickwatch.settings import (
    AlertSettings,
    IngestSettings,
    MonitorSettings,
    Settings,
    StackSettings,
)
from tickwatch.telemetry.catalog import MonitorMetrics

from .activity_fake import ActivityTables
from .monitor_fakes import FakeClickHouse

CHECK_S = 30.0
WEEK_S = 7 * 86_400 + 6 * 3600  # a week and a Monday morning
STALL_S = 900
# warn limit (60 s, scaled up to ~10 gaps for the feed's rarest symbol) + open_after (2)
# failing checks + one check interval of phase
DETECTION_BUDGET_S = 300.0


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Week:
    calendar: str
    symbols: str
    start: str
    stall: str
    asset_class: str


WEEKS = [
    # Thanksgiving (Thu 26), early close (Fri 27), weekend, the Monday after
    Week("XNYS", "AAPL,MSFT,JPM,KO", "2026-11-21T00:00", "2026-11-24T16:00", "equity"),
    # Labor Thanksgiving Day (Mon 23) and the Tuesday after; lunch 11:30-12:30 JST daily
    Week("XTKS", "7203,6758,9984,8306", "2026-11-21T00:00", "2026-11-24T04:00", "equity"),
    # lunch 12:00-13:00 HKT daily
    Week("XHKG", "0700,0005,9988,1299", "2026-11-21T00:00", "2026-11-24T06:00", "equity"),
    # FX weekend around the US DST change (Sun 2026-11-01): closes 21:00, reopens 22:00 UTC
    Week("FX", "EUR/USD,USD/JPY,GBP/USD,AUD/USD", "2026-10-28T00:00", "2026-11-02T12:00", "fx"),
    # crypto never closes: the stall is on a Sunday
    Week("24/7", "BTC/USD,ETH/USD,SOL/USD,XRP/USD", "2026-11-21T00:00", "2026-11-22T12:00",
         "crypto"),
]  # fmt: skip


def settings_for(week: Week, tmp_path: Path) -> Settings:
    start = at(week.start)
    offset = at(week.stall) - start
    listed = week.calendar if week.calendar not in ("FX", "24/7") else "XNYS"
    ingest = IngestSettings(
        symbol_list=week.symbols, rate=1.0, trading_calendar=listed,
        anomalies=f"stall:{STALL_S}@{offset:.0f}",
    )  # fmt: skip
    return Settings(
        _env_file=None,
        stack=StackSettings(state_dir=tmp_path),
        ingest=ingest,
        monitor=MonitorSettings(freshness_interval_s=CHECK_S),
        alerts=AlertSettings(group_wait_s=1.0),
    )


def feed(tables: ActivityTables, items: list[object]) -> None:
    for i in items:
        if isinstance(i, Trade | Quote):
            kind = "trades" if isinstance(i, Trade) else "quotes"
            tables.add(i.symbol, i.ts / 1e6, asset_class=i.asset_class.value, record_type=kind)
        elif isinstance(i, Bar):
            start = i.ts / 1e6
            tables.add(i.symbol, start, asset_class=i.asset_class.value, record_type="bars",
                       fresh_as_of=start + 2 * i.interval_s)  # fmt: skip


def run_week(week: Week, tmp_path: Path) -> tuple[list[Notification], list[float]]:
    """(emails queued, the time each was queued) over the week."""
    settings = settings_for(week, tmp_path)
    start = at(week.start)
    clock, tables = ManualClock(start), ActivityTables()
    sim = Simulator(settings.ingest, clock, hours=TradingHours())
    tape = sim.tape(start)
    check = build_freshness(settings, tables.handle(), clock, expected_symbols(settings))
    detector = build_detector(settings, FakeClickHouse(), _no_mail,
                              MonitorMetrics(CollectorRegistry()), clock)  # fmt: skip
    queued: list[float] = []
    while clock.time() < start + WEEK_S:
        clock.advance(CHECK_S)
        while True:
            items, behind = tape.take(int(clock.time() * 1e6), 50_000)
            feed(tables, list(items))
            if not behind:
                break
        detector.on_results(check.run())
        clock.advance(1.0)  # group_wait
        before = detector.outbox.pending
        detector.dispatch()
        queued += [clock.time()] * (detector.outbox.pending - before)
    return detector.outbox.undelivered(), queued


async def _no_mail(n: Notification) -> None:  # the outbox thread is never started
    raise AssertionError("no delivery in this test")


@pytest.mark.parametrize("week", WEEKS, ids=[w.calendar for w in WEEKS])
def test_a_week_has_no_false_alarm_and_the_stall_is_caught_in_budget(
    week: Week, tmp_path: Path
) -> None:
    emails, queued = run_week(week, tmp_path)
    stall = at(week.stall)
    subjects = [e.subject for e in emails]
    assert emails, f"{week.calendar}: the stall at {week.stall} was not alerted"
    # every email belongs to the stall: firing during it, resolving within minutes after it
    assert all(stall <= t <= stall + STALL_S + 600 for t in queued), list(
        zip(queued, subjects, strict=True)
    )
    first = emails[0]
    detected = queued[0] - stall
    print(f"\n{week.calendar}: stall alerted after {detected:.0f}s: {first.subject}")
    assert detected <= DETECTION_BUDGET_S
    assert f"freshness/trades/{week.asset_class}" in first.alert_keys
    symbols = week.symbols.split(",")
    # one email lists every symbol stale by then (the busiest first: a rarely traded symbol's
    # limit is longer); by the escalation to CRIT every symbol is named
    assert sum(s in first.text for s in symbols) >= 2
    assert all(any(s in e.text for e in emails) for s in symbols)
    assert any("RESOLVED" in s for s in subjects)
