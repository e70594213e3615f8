"""Prometheus histograms read from a worker's ``/metrics``: the difference of two scrapes, the
exact share of observations at or below a bucket bound, and quantiles interpolated within a
bucket.

The latency scenario reads the load worker's per-row ``tickwatch_load_event_to_insert_seconds``
(taken right after each INSERT returned) this way: every row is counted, and the goal
thresholds are bucket bounds, so the share at a threshold is exact and only the quantiles
between bounds are interpolated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from bench.errors import BenchError


@dataclass(frozen=True)
class Buckets:
    """One histogram series: finite upper ``bounds`` (ascending) and the ``cumulative`` counts
    at or below each, then the total (the ``+Inf`` bucket) as the last count."""

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.cumulative[-1] if self.cumulative else 0


def parse(exposition: str, name: str, label: str) -> dict[str, Buckets]:
    """Histogram ``name``'s series in a text exposition, keyed by the value of ``label``."""
    found: dict[str, list[tuple[float, int]]] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
                le = float(sample.labels["le"])
                found.setdefault(sample.labels[label], []).append((le, round(sample.value)))
    return {key: _series(pairs, name) for key, pairs in found.items()}


def _series(pairs: list[tuple[float, int]], name: str) -> Buckets:
    pairs.sort()
    if not pairs or not math.isinf(pairs[-1][0]):
        raise BenchError(f"histogram {name} has no +Inf bucket")
    return Buckets(tuple(b for b, _ in pairs[:-1]), tuple(c for _, c in pairs))


def delta(after: Buckets, before: Buckets | None) -> Buckets:
    """The observations counted between two scrapes of one series (``before`` None: none
    before). Raises BenchError when the bounds differ or a count went down (a restart)."""
    if before is None:
        return after
    if before.bounds != after.bounds:
        raise BenchError("the histogram's bucket bounds changed between the two scrapes")
    counts = tuple(a - b for a, b in zip(after.cumulative, before.cumulative, strict=True))
    if any(c < 0 for c in counts):
        raise BenchError("a histogram count went down between the two scrapes (restarted?)")
    return Buckets(after.bounds, counts)


def deltas(after: dict[str, Buckets], before: dict[str, Buckets]) -> dict[str, Buckets]:
    """:func:`delta` per key of ``after``, keys with no observation in between left out."""
    out = {key: delta(b, before.get(key)) for key, b in after.items()}
    return {key: b for key, b in sorted(out.items()) if b.total}


def merged(series: Iterable[Buckets]) -> Buckets:
    """The sum of series with the same bounds (all types together)."""
    items = list(series)
    if not items:
        raise BenchError("no histogram series to merge")
    if any(b.bounds != items[0].bounds for b in items):
        raise BenchError("cannot merge histograms with different bucket bounds")
    counts = [sum(b.cumulative[i] for b in items) for i in range(len(items[0].cumulative))]
    return Buckets(items[0].bounds, tuple(counts))


def share_at_or_below(b: Buckets, bound: float) -> float:
    """The exact share of observations ``<= bound``; ``bound`` must be one of the bounds."""
    if bound not in b.bounds:
        raise BenchError(f"{bound:g} s is not a bucket bound of the histogram")
    if not b.total:
        raise BenchError("the histogram counted nothing")
    return b.cumulative[b.bounds.index(bound)] / b.total


def quantile(b: Buckets, q: float) -> tuple[float, tuple[float, float]]:
    """The ``q`` quantile, linear within its bucket (as Prometheus' ``histogram_quantile``:
    the first bucket starts at 0), and that bucket's ``(lower, upper)`` bounds. A quantile in
    the ``+Inf`` bucket is the highest finite bound, with ``upper`` infinite."""
    if not b.total:
        raise BenchError("the histogram counted nothing")
    rank = q * b.total
    lower, below = 0.0, 0
    for upper, count in zip((*b.bounds, math.inf), b.cumulative, strict=True):
        if count >= rank and count > below:
            if math.isinf(upper):
                return lower, (lower, upper)
            return lower + (upper - lower) * (rank - below) / (count - below), (lower, upper)
        lower, below = upper, count
    raise AssertionError("unreachable: the last cumulative count is the total")


def goal_met(b: Buckets, q: float, bound: float) -> bool:
    """Whether the ``q`` quantile is at most ``bound`` (a bucket bound): exactly when at least
    a share ``q`` of the observations are at or below it."""
    return share_at_or_below(b, bound) >= q
