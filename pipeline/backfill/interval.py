"""Bar intervals a backfill understands, and the time range of a request (microseconds, UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pipeline.backfill.errors import BackfillConfigError

INTERVALS = {"1m": 60, "1d": 86_400}
"""``--interval`` -> ``Bar.interval_s``."""

TRADES = 0
"""The interval of trades in watermark keys (ledger, ``ops.backfill_watermarks.interval_s``)
and transactional ids: no bar is 0 s long, so the two never share a key (migration 0017)."""

WHAT = ("bars", "trades")
"""``--what``: bars (``--interval`` long) or trades."""

US = 1_000_000


def interval_seconds(name: str) -> int:
    """``1m`` -> 60, ``1d`` -> 86400; :class:`BackfillConfigError` for anything else."""
    try:
        return INTERVALS[name]
    except KeyError:
        raise BackfillConfigError(
            f"--interval {name!r}: expected one of {sorted(INTERVALS)}"
        ) from None


@dataclass(frozen=True, slots=True)
class Span:
    """Bar start times ``lo_us <= ts <= hi_us`` (both inclusive)."""

    lo_us: int
    hi_us: int


def parse_time(text: str, option: str, *, end: bool) -> int:
    """``YYYY-MM-DD`` (start of day, or its last microsecond when ``end``) or an ISO date-time
    (UTC unless it says otherwise) -> microseconds since the epoch."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if end:
                moment += timedelta(days=1) - timedelta(microseconds=1)
        else:
            moment = datetime.fromisoformat(text)
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    except ValueError:
        raise BackfillConfigError(
            f"{option} {text!r}: expected YYYY-MM-DD or an ISO date-time"
        ) from None
    return int(moment.timestamp()) * US + moment.microsecond


def span(first: str, last: str) -> Span:
    """The span of ``--from first --to last``; raises when it is empty."""
    lo, hi = parse_time(first, "--from", end=False), parse_time(last, "--to", end=True)
    if hi < lo:
        raise BackfillConfigError(f"--from {first} is after --to {last}")
    return Span(lo, hi)


def iso(ts_us: int) -> str:
    """RFC 3339 with a ``Z``, second precision when that is exact."""
    moment = datetime.fromtimestamp(ts_us // US, tz=UTC) + timedelta(microseconds=ts_us % US)
    return moment.isoformat().replace("+00:00", "Z")
