"""Bars from a replay file (CSV, JSON Lines or Parquet, as ``ingest.source = replay`` reads).

The file's bar rows for the symbol, interval and span, sorted by time, in pages of ``limit``;
rows of other types are skipped. Bars are recorded with source ``replay`` (the watermark key).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from pipeline.backfill.interval import Span
from pipeline.backfill.pages import Page
from pipeline.codec import Bar
from pipeline.sources.replay_files import read_rows, replay_files
from pipeline.sources.replay_rows import to_record


class ReplayBars:
    """Bars of one replay file or directory."""

    name = "replay"

    def __init__(self, path: Path, limit: int) -> None:
        self._path, self._limit = path, limit

    def pages(self, symbol: str, interval_s: int, span: Span) -> Iterator[Page]:
        """Pages of ``limit`` bars; raises ReplayError naming file and line for a bad row."""
        bars = sorted(self._bars(symbol, interval_s, span), key=lambda b: b.ts)
        where = f"replay {self._path}"
        for start in range(0, len(bars), self._limit):
            chunk = bars[start : start + self._limit]
            last = start + self._limit >= len(bars)
            yield Page(chunk, span.hi_us if last else chunk[-1].ts, where)
        if not bars:
            yield Page([], span.hi_us, where)

    def _bars(self, symbol: str, interval_s: int, span: Span) -> Iterator[Bar]:
        for path in replay_files(self._path):
            for where, row, default in read_rows(path):
                if row.get("symbol") != symbol:
                    continue
                record = to_record(row, default, where)
                if not isinstance(record, Bar) or record.interval_s != interval_s:
                    continue
                if span.lo_us <= record.ts <= span.hi_us:
                    yield dataclasses.replace(record, source="replay")
