"""What every history source yields: pages of records (bars or trades) in time order, each
with how far it covers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.backfill.errors import VendorResponseError
from pipeline.backfill.interval import Span
from pipeline.backfill.symbols import Instrument
from pipeline.codec import Bar, Trade

History = Bar | Trade


@dataclass(frozen=True, slots=True)
class Page:
    """Records with ``ts`` ascending; ``covered_to_us``: no record up to it is still to come."""

    records: Sequence[History]
    covered_to_us: int
    request: str  # which request it came from, for errors and logs


class HistorySource(Protocol):
    """A vendor's historical bars or trades for one symbol.

    ``interval_s`` is the bar length, 0 for trades (the watermark key's interval, see
    :data:`pipeline.backfill.interval.TRADES`).
    """

    name: str

    def pages(self, symbol: str, interval_s: int, span: Span) -> Iterator[Page]:
        """Pages covering ``span`` in order; the last one covers up to ``span.hi_us``."""
        ...


def number(item: dict[str, Any], key: str, where: str, *, default: float | None = None) -> float:
    """``item[key]`` as a float; VendorResponseError naming the field otherwise."""
    value = item.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VendorResponseError(where, f"bar field {key!r} = {value!r} is not a number")
    return float(value)


def ohlcv_bar(
    item: dict[str, Any], of: Instrument, ts_us: int, interval_s: int, *, source: str, where: str
) -> Bar:
    """A bar of ``of`` from a vendor object with Polygon's and Alpaca's shared field names
    (``o h l c v``, optional ``vw`` and ``n``); VendorResponseError naming a bad field."""
    return Bar(
        symbol=of.symbol,
        ts=ts_us,
        interval_s=interval_s,
        open=number(item, "o", where),
        high=number(item, "h", where),
        low=number(item, "l", where),
        close=number(item, "c", where),
        volume=number(item, "v", where),
        vwap=number(item, "vw", where, default=0.0),
        trade_count=int(number(item, "n", where, default=0)),
        asset_class=of.asset_class,
        source=source,
        instrument=of.instrument,
    )


def items(body: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    """``body[key]`` as a list of objects (missing/null = empty)."""
    found = body.get(key)
    if found is None:
        return []
    if not isinstance(found, list) or not all(isinstance(x, dict) for x in found):
        raise VendorResponseError(where, f"{key!r} is not a list of objects")
    return found


def page_cover(records: Sequence[History], more: bool, span: Span, where: str) -> Page:
    """The page of ``records``: covers to its last record while ``more`` pages follow, else to
    the end of the span. Out-of-order records are a malformed page."""
    if any(b.ts < a.ts for a, b in itertools.pairwise(records)):
        raise VendorResponseError(where, "records are not in ascending time order")
    inside = [b for b in records if span.lo_us <= b.ts <= span.hi_us]
    if not more:
        return Page(inside, span.hi_us, where)
    covered = max(span.lo_us - 1, records[-1].ts if records else span.lo_us - 1)
    return Page(inside, covered, where)


class TieCarry:
    """Trades of one page that share the page's last microsecond wait for the next page.

    Many trades can share a microsecond (and Polygon's nanoseconds truncate to it), so a page
    may end in the middle of one. A watermark at that microsecond would make a re-run after a
    kill skip the rest of it. So the page covers only up to the microsecond before, and its
    last microsecond's trades are produced with the next page (or the last one); a re-run
    after a kill asks the vendor again from that microsecond.
    """

    def __init__(self) -> None:
        self._held: list[History] = []

    def page(self, records: Sequence[History], more: bool, span: Span, where: str) -> Page:
        """:func:`page_cover` of the held trades plus ``records``, holding back the last tie."""
        page = page_cover([*self._held, *records], more, span, where)
        self._held = []
        if not more or not page.records:
            return page
        last = page.records[-1].ts
        keep = [r for r in page.records if r.ts < last]
        self._held = list(page.records[len(keep) :])
        return Page(keep, max(span.lo_us - 1, last - 1), where)
