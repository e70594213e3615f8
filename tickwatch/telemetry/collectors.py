"""Collectors whose samples are computed at scrape time or fed in bulk.

prometheus_client's own metric classes cover counters, gauges and histograms observed one value
at a time. Two things do not fit them:

* "seconds since the last record" must be fresh when Prometheus scrapes, not when the last
  record arrived, so :class:`LastSeenCollector` stores timestamps and subtracts them from an
  injected clock inside ``collect()``;
* the load worker measures end-to-end latency for every row of a 50k-row batch, so
  :class:`BulkHistogram` takes a whole array, counts it per bucket with numpy (one vectorised
  comparison per bound) and adds the counts under one lock (exact counts and sum, no sampling).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from tickwatch.clock import WallClock

Floats = Sequence[float] | npt.NDArray[np.float64]
"""Observations: a list of floats or a float64 numpy array."""

# prometheus_client's own bucket-bound formatting ("+Inf", "0.005"), so `le` labels match the
# ones its Histogram class produces; the function itself is unannotated.
_format_bound: Callable[[float], str] = floatToGoString


class LastSeenCollector(Collector):
    """A gauge of ``clock.time() - last_seen[key]`` per key, computed at collection time.

    ``limit`` caps the number of distinct keys (used for per-symbol labels): once more than
    ``limit`` keys have been seen, the collector forgets all of them and exposes no samples,
    because a partial set of symbols would be misleading and an unbounded one would blow up
    Prometheus' series count. ``limit=None`` means no cap (for low-cardinality keys such as the
    source name).
    """

    def __init__(
        self, name: str, documentation: str, label: str, clock: WallClock, limit: int | None = None
    ) -> None:
        self._name = name
        self._doc = documentation
        self._label = label
        self._clock = clock
        self._limit = limit
        self._seen: dict[str, float] = {}
        self._overflowed = False
        self._lock = threading.Lock()

    @property
    def overflowed(self) -> bool:
        """True once more than ``limit`` distinct keys were seen (no samples are exposed then)."""
        return self._overflowed

    def seen(self, key: str, when: float) -> None:
        """Record that ``key`` produced a record at ``when`` (epoch seconds); keeps the latest."""
        with self._lock:
            if self._overflowed:
                return
            if when <= self._seen.get(key, -math.inf):
                return
            self._seen[key] = when
            if self._limit is not None and len(self._seen) > self._limit:
                self._seen.clear()
                self._overflowed = True

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            snapshot = list(self._seen.items())
        now = self._clock.time()
        family = self._family()
        for key, when in snapshot:
            family.add_metric([key], max(0.0, now - when))
        return [family]

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self._name, self._doc, labels=[self._label])


@dataclass
class _HistogramSeries:
    cumulative: npt.NDArray[np.int64]  # values <= each bound, +Inf last
    total: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class BulkHistogram(Collector):
    """A labelled Prometheus histogram that accepts whole arrays of observations.

    ``observe_many`` counts, for each bucket bound, the values at or below it with one
    vectorised comparison (``np.count_nonzero(values <= bound)``): a 50k-value float64 array
    costs about half a millisecond on a small machine (a Python list adds its conversion). The
    exposed ``_bucket``/``_sum``/``_count`` samples are exactly what observing each value one
    by one would give (no sampling). NaN values are ignored; negative values (clock skew
    between a vendor and us) count as 0.
    """

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> None:
        bounds = sorted(float(b) for b in buckets if b != math.inf)
        self._name = name
        self._doc = documentation
        self._labelnames = list(labelnames)
        self._bounds = [*bounds, math.inf]
        self._series: dict[tuple[str, ...], _HistogramSeries] = {}
        self._lock = threading.Lock()

    def observe_many(self, labelvalues: Sequence[str], values: Floats) -> None:
        """Add every value of ``values`` to the series named by ``labelvalues``."""
        arr = np.asarray(values, dtype=np.float64)
        arr = np.maximum(arr[~np.isnan(arr)], 0.0)
        if arr.size == 0:
            return
        cumulative = [np.count_nonzero(arr <= bound) for bound in self._bounds[:-1]]
        counts = np.asarray([*cumulative, arr.size], dtype=np.int64)
        series = self._series_for(tuple(labelvalues))
        with series.lock:
            series.cumulative += counts
            series.total += float(arr.sum())

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        with self._lock:
            items = list(self._series.items())
        for labelvalues, series in items:
            with series.lock:
                cumulative = series.cumulative.tolist()
                total = series.total
            buckets = [
                (_format_bound(bound), count)
                for bound, count in zip(self._bounds, cumulative, strict=True)
            ]
            family.add_metric(list(labelvalues), buckets=buckets, sum_value=total)
        yield family

    def _series_for(self, labelvalues: tuple[str, ...]) -> _HistogramSeries:
        if len(labelvalues) != len(self._labelnames):
            raise ValueError(f"{self._name}: expected labels {self._labelnames}, got {labelvalues}")
        with self._lock:
            series = self._series.get(labelvalues)
            if series is None:
                series = _HistogramSeries(np.zeros(len(self._bounds), dtype=np.int64))
                self._series[labelvalues] = series
            return series

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(self._name, self._doc, labels=self._labelnames)
