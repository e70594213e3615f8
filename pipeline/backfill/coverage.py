"""Which parts of a request are already backfilled: pure interval arithmetic.

A :class:`Mark` says "every bar of (source, symbol, interval) with ``start_us <= ts <=
watermark_us`` has been produced and committed". A request is cut into the sub-spans no mark
covers; only those are fetched. So a re-run continues from the watermark, and a range that
overlaps an earlier one fetches only what the earlier one did not cover.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.backfill.interval import Span


@dataclass(frozen=True, slots=True)
class Mark:
    """One watermark record: the covered span ``[start_us, watermark_us]`` of one key."""

    source: str
    symbol: str
    interval_s: int
    start_us: int
    watermark_us: int
    bars: int = 0  # bars produced under this mark so far

    @property
    def key(self) -> str:
        """The ledger key: one record per (source, symbol, interval, span start)."""
        return f"{self.source}|{self.symbol}|{self.interval_s}|{self.start_us}"


def merged(spans: Iterable[Span]) -> list[Span]:
    """Sorted, with overlapping or touching spans joined."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: s.lo_us):
        if out and s.lo_us <= out[-1].hi_us + 1:
            out[-1] = Span(out[-1].lo_us, max(out[-1].hi_us, s.hi_us))
        else:
            out.append(s)
    return out


def uncovered(request: Span, marks: Iterable[Mark]) -> list[Span]:
    """The sub-spans of ``request`` that no mark covers, in time order."""
    todo: list[Span] = []
    lo = request.lo_us
    for covered in merged(Span(m.start_us, m.watermark_us) for m in marks):
        if covered.hi_us < lo:
            continue
        if covered.lo_us > request.hi_us:
            break
        if covered.lo_us > lo:
            todo.append(Span(lo, covered.lo_us - 1))
        lo = max(lo, covered.hi_us + 1)
    if lo <= request.hi_us:
        todo.append(Span(lo, request.hi_us))
    return todo
