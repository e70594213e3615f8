"""``--source replay``: the bar rows of a replay file for one symbol, interval and span."""

from __future__ import annotations

from pathlib import Path

from pipeline.backfill.interval import Span
from pipeline.backfill.replay import ReplayBars

T0 = 1_793_629_800_000_000


def test_bars_of_the_symbol_interval_and_span_in_pages(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    lines = ["type,symbol,ts,interval_s,open,high,low,close,volume"]
    for i in reversed(range(10)):  # out of order in the file
        lines.append(f"bar,AAPL,{T0 + i * 60_000_000},60,1,2,0.5,1.5,10")
    lines += [f"bar,MSFT,{T0},60,1,2,0.5,1.5,10", f"bar,AAPL,{T0},86400,1,2,0.5,1.5,10"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    span = Span(T0 + 60_000_000, T0 + 8 * 60_000_000)
    pages = list(ReplayBars(path, limit=3).pages("AAPL", 60, span))
    ts = [b.ts for p in pages for b in p.records]
    assert ts == [T0 + i * 60_000_000 for i in range(1, 9)]
    assert [len(p.records) for p in pages] == [3, 3, 2]
    assert pages[0].covered_to_us == T0 + 3 * 60_000_000 and pages[-1].covered_to_us == span.hi_us
    assert {b.source for p in pages for b in p.records} == {"replay"}
