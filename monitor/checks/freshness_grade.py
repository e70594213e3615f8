"""Freshness, graded per symbol and reported per (record type, asset class): pure logic.

A symbol is judged in trading time only: its staleness is the trading time of its calendar
between its newest record (``fresh_as_of``) and now, so nights, weekends, holidays and lunch
breaks never count, and the first seconds after an open or a break are not "stale since the
close". Its limits scale with its own typical gap between records (``gap_s``, trading time):
``warn = max(warn_s, warn_gaps * gap)``, ``crit = max(crit_s, crit_gaps * gap)``, so a symbol
that trades every ten minutes does not alarm after one quiet minute while a busy one still does.
A symbol that never delivered counts from when the detector started watching. While its
market is closed a symbol is OK.

Symbols are grouped into one alertable :class:`CheckResult` per ``<record type>/<asset class>``
(the worst symbol decides, the message lists the stale ones), so a dead symbol or a dead vendor
alerts, and an incident is one email however many symbols it hits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tickwatch.clock import utc
from tickwatch.market_hours import TradingHours
from tickwatch.types import CheckResult, Status, worst


@dataclass(frozen=True, slots=True)
class Limits:
    """Thresholds (``monitor.freshness_*``): seconds, and multiples of a symbol's gap."""

    warn_s: float
    crit_s: float
    warn_gaps: float = 10.0
    crit_gaps: float = 30.0
    list_max: int = 20

    def for_gap(self, gap_s: float | None) -> tuple[float, float]:
        """(warn, crit) seconds for a symbol whose typical gap is ``gap_s`` (None: unknown)."""
        g = gap_s or 0.0
        warn = max(self.warn_s, self.warn_gaps * g)
        return warn, max(self.crit_s, self.crit_gaps * g, warn)


@dataclass(frozen=True, slots=True)
class Watched:
    """One expected (record type, source, symbol); ``fresh_as_of`` None = never delivered."""

    record_type: str
    source: str
    symbol: str
    asset_class: str
    exchange: str
    fresh_as_of: float | None
    gap_s: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    watched: Watched
    status: Status
    stale_s: float
    warn_s: float
    crit_s: float
    calendar: str
    closed: bool


def grade(
    watched: Sequence[Watched], hours: TradingHours, limits: Limits, now: float, since: float
) -> list[Verdict]:
    """Grade every symbol at ``now``; ``since`` is when the detector began watching."""
    by_calendar: dict[str, list[Watched]] = defaultdict(list)
    for w in watched:
        by_calendar[hours.calendar_name(w.asset_class, w.exchange)].append(w)
    out: list[Verdict] = []
    for name, group in by_calendar.items():
        calendar = hours.named(name)
        if not calendar.is_open(now):
            out += [Verdict(w, Status.OK, 0.0, *limits.for_gap(w.gap_s), name, True) for w in group]
            continue
        starts = np.array([since if w.fresh_as_of is None else w.fresh_as_of for w in group])
        stale = calendar.trading_seconds_many(starts, now)
        for w, s in zip(group, stale.tolist(), strict=True):
            warn, crit = limits.for_gap(w.gap_s)
            status = Status.CRIT if s >= crit else Status.WARN if s >= warn else Status.OK
            out.append(Verdict(w, status, s, warn, crit, name, False))
    return out


def group_results(verdicts: Sequence[Verdict], limits: Limits, now: float) -> list[CheckResult]:
    """One alertable result per ``<record type>/<asset class>``, in target order."""
    groups: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        groups[f"{v.watched.record_type}/{v.watched.asset_class}"].append(v)
    return [_result(target, groups[target], limits, now) for target in sorted(groups)]


def _result(target: str, verdicts: list[Verdict], limits: Limits, now: float) -> CheckResult:
    status = worst([v.status for v in verdicts])
    failing = sorted(
        (v for v in verdicts if v.status.failing), key=lambda v: v.stale_s / v.warn_s, reverse=True
    )
    head = failing[0] if failing else max(verdicts, key=lambda v: v.stale_s / v.warn_s)
    return CheckResult(
        now, "freshness", target, status, head.stale_s, head.warn_s,
        _message(verdicts, failing, limits.list_max),
    )  # fmt: skip


def _message(verdicts: list[Verdict], failing: list[Verdict], list_max: int) -> str:
    n = len(verdicts)
    closed = [v for v in verdicts if v.closed]
    calendars = ", ".join(sorted({v.calendar for v in verdicts}))
    if not failing:
        if len(closed) == n:
            newest = [v.watched.fresh_as_of for v in verdicts if v.watched.fresh_as_of]
            last = f"; last at {utc(max(newest)):%Y-%m-%d %H:%M:%S} UTC" if newest else ""
            return f"market closed ({calendars}); {n} symbols{last}"
        return f"{n} symbols fresh ({calendars}; {len(closed)} in a closed market)"
    shown = ", ".join(_describe(v) for v in failing[:list_max])
    more = f", and {len(failing) - list_max} more" if len(failing) > list_max else ""
    return (
        f"{len(failing)} of {n} symbols stale ({calendars}; {_by_source(verdicts)}): {shown}{more}"
    )


def _by_source(verdicts: list[Verdict]) -> str:
    """``alpaca 20/20 stale, polygon 0/15``: a dead vendor shows at a glance."""
    total: dict[str, int] = defaultdict(int)
    stale: dict[str, int] = defaultdict(int)
    for v in verdicts:
        total[v.watched.source] += 1
        stale[v.watched.source] += v.status.failing
    return ", ".join(f"{src} {stale[src]}/{total[src]} stale" for src in sorted(total))


def _describe(v: Verdict) -> str:
    w = v.watched
    if w.fresh_as_of is None:
        return f"{w.symbol} [{w.source}] never delivered, watched {v.stale_s:.0f}s of trading"
    limit = v.crit_s if v.status is Status.CRIT else v.warn_s
    return f"{w.symbol} [{w.source}] {v.stale_s:.0f}s (limit {limit:.0f}s)"
