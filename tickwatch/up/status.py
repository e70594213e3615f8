"""What ``tickwatch up`` shows: rates and health read from the workers' /metrics and ClickHouse.

:func:`parse_metrics` turns one Prometheus text exposition into sample sums;
:class:`StatusBoard` keeps the previous reading of each worker and turns counters into rates
and histograms into the mean and p99 over the last interval.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from tickwatch.telemetry import definitions as defs
from tickwatch.up.detector import DetectorView

# the names come from the catalog: nothing else names a metric
RECORDS_IN = defs.INGEST_RECORDS.name
ROWS_OUT = defs.LOAD_ROWS_INSERTED.name
LAG = defs.LOAD_CONSUMER_LAG.name
LAG_SECONDS = defs.LOAD_CONSUMER_LAG_SECONDS.name
DEAD_LETTERS = defs.LOAD_DEAD_LETTERS.name
PRODUCE_ERRORS = defs.INGEST_PRODUCE_ERRORS.name
E2E = defs.LOAD_EVENT_TO_INSERT.name


@dataclass(frozen=True)
class Reading:
    """One scrape: per-metric sums and maxima over label sets, histogram buckets by ``le``."""

    at: float
    sums: Mapping[str, float]
    maxima: Mapping[str, float]
    buckets: Mapping[str, Mapping[float, float]]


def parse_metrics(text: str, at: float) -> Reading:
    """Sum every sample name over its labels; collect ``_bucket`` counts per upper bound."""
    sums: dict[str, float] = defaultdict(float)
    maxima: dict[str, float] = {}
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                bound = float(sample.labels["le"])
                buckets[sample.name[: -len("_bucket")]][bound] += sample.value
                continue
            sums[sample.name] += sample.value
            maxima[sample.name] = max(maxima.get(sample.name, -math.inf), sample.value)
    return Reading(at, dict(sums), maxima, {k: dict(v) for k, v in buckets.items()})


@dataclass(frozen=True)
class Status:
    """One line of the panel; ``None`` = unknown (worker not answering yet)."""

    ticks_in: float | None = None
    ticks_out: float | None = None
    lag_offsets: float | None = None
    lag_seconds: float | None = None
    e2e_mean_s: float | None = None
    e2e_p99_s: float | None = None
    dead_letters: float | None = None
    produce_errors: float | None = None
    health: Mapping[str, str] = field(default_factory=dict)
    rows: Mapping[str, int] = field(default_factory=dict)
    detector: DetectorView | None = None  # checks, open alerts, emails (from its status API)
    links: Mapping[str, str] = field(default_factory=dict)  # status page, Prometheus, mail
    drill: str = ""  # the incident drill's progress, when one runs


class StatusBoard:
    """Turns successive readings of the ingest and load workers into :class:`Status`."""

    def __init__(self) -> None:
        self._previous: dict[str, Reading] = {}

    def update(
        self,
        ingest: Reading | None,
        load: Reading | None,
        health: Mapping[str, str],
        rows: Mapping[str, int],
    ) -> Status:
        """Rates since the previous update of each worker (unknown on the first one)."""
        ticks_in = self._rate("ingest", ingest, RECORDS_IN)
        ticks_out = self._rate("load", load, ROWS_OUT)
        mean, p99 = _latency(self._previous.get("load"), load)
        for name, reading in (("ingest", ingest), ("load", load)):
            if reading is not None:
                self._previous[name] = reading
        return Status(
            ticks_in=ticks_in,
            ticks_out=ticks_out,
            lag_offsets=load.sums.get(LAG) if load else None,
            lag_seconds=load.maxima.get(LAG_SECONDS) if load else None,
            e2e_mean_s=mean,
            e2e_p99_s=p99,
            dead_letters=load.sums.get(DEAD_LETTERS, 0.0) if load else None,
            produce_errors=ingest.sums.get(PRODUCE_ERRORS, 0.0) if ingest else None,
            health=dict(health),
            rows=dict(rows),
        )

    def _rate(self, worker: str, now: Reading | None, name: str) -> float | None:
        before = self._previous.get(worker)
        if now is None or before is None or now.at <= before.at:
            return None
        delta = now.sums.get(name, 0.0) - before.sums.get(name, 0.0)
        return max(0.0, delta) / (now.at - before.at)


def _latency(before: Reading | None, now: Reading | None) -> tuple[float | None, float | None]:
    """Mean and p99 of end-to-end latency observed between two readings."""
    if before is None or now is None:
        return None, None
    count = now.sums.get(f"{E2E}_count", 0.0) - before.sums.get(f"{E2E}_count", 0.0)
    if count <= 0:
        return None, None
    total = now.sums.get(f"{E2E}_sum", 0.0) - before.sums.get(f"{E2E}_sum", 0.0)
    new, old = now.buckets.get(E2E, {}), before.buckets.get(E2E, {})
    p99 = next((b for b in sorted(new) if new[b] - old.get(b, 0.0) >= 0.99 * count), None)
    return total / count, p99
