"""What every bar source yields: pages of bars in time order, each with how far it covers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from pipeline.backfill.errors import VendorResponseError
from pipeline.backfill.interval import Span
from pipeline.codec import AssetClass, Bar


@dataclass(frozen=True, slots=True)
class Page:
    """Bars with ``ts`` ascending; ``covered_to_us``: no bar up to it is still to come."""

    bars: list[Bar]
    covered_to_us: int
    request: str  # which request it came from, for errors and logs


class BarSource(Protocol):
    """A vendor's historical bars for one symbol."""

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
    item: dict[str, Any], symbol: str, ts_us: int, interval_s: int, *, source: str, where: str
) -> Bar:
    """A US-equity bar from a vendor object with Polygon's and Alpaca's shared field names
    (``o h l c v``, optional ``vw`` and ``n``); VendorResponseError naming a bad field."""
    return Bar(
        symbol=symbol,
        ts=ts_us,
        interval_s=interval_s,
        open=number(item, "o", where),
        high=number(item, "h", where),
        low=number(item, "l", where),
        close=number(item, "c", where),
        volume=number(item, "v", where),
        vwap=number(item, "vw", where, default=0.0),
        trade_count=int(number(item, "n", where, default=0)),
        asset_class=AssetClass.EQUITY,
        source=source,
        instrument=symbol,
    )


def items(body: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    """``body[key]`` as a list of objects (missing/null = empty)."""
    found = body.get(key)
    if found is None:
        return []
    if not isinstance(found, list) or not all(isinstance(x, dict) for x in found):
        raise VendorResponseError(where, f"{key!r} is not a list of objects")
    return found


def page_cover(bars: list[Bar], more: bool, span: Span, where: str) -> Page:
    """The page of ``bars``: covers to its last bar while ``more`` pages follow, else to the
    end of the span. Out-of-order bars are a malformed page."""
    if any(b.ts < a.ts for a, b in itertools.pairwise(bars)):
        raise VendorResponseError(where, "bars are not in ascending time order")
    inside = [b for b in bars if span.lo_us <= b.ts <= span.hi_us]
    if not more:
        return Page(inside, span.hi_us, where)
    covered = max(span.lo_us - 1, bars[-1].ts if bars else span.lo_us - 1)
    return Page(inside, covered, where)
