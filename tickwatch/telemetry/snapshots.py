"""Periodic snapshots of a worker's Prometheus registry into ClickHouse ``{ops}.pipeline_metrics``.

Every ``telemetry.export_interval_s`` each sample the registry exposes (histograms as their
``_bucket``/``_sum``/``_count`` samples, ``_created`` timestamps left out) becomes one row
``(time, service, instance, metric, labels, value)``. This narrow table is used instead of the
Collector's metrics schema (five tables split by metric type, with OTLP temporality and exemplar
columns) because the samples are already Prometheus samples: one table with the exposition name
and a label map is queried the same way for every type, matches PromQL names one to one, and
needs no translation layer in the worker. Prometheus remains the primary metrics store; these
snapshots let pipeline health be read (and joined with ticks and traces) from ClickHouse alone.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from tickwatch.clock import WallClock
from tickwatch.telemetry.export import Channel, Row, TableSpec

_LC = "LowCardinality(String)"
METRICS_TABLE = TableSpec(
    "pipeline_metrics",
    (
        ("time", "DateTime64(3, 'UTC')"),
        ("service", _LC),
        ("instance", _LC),
        ("metric", _LC),
        ("labels", "Map(LowCardinality(String), String)"),
        ("value", "Float64"),
    ),
)


def snapshot_rows(
    registry: CollectorRegistry, service: str, instance: str, when: float
) -> list[Row]:
    """One row per exposed sample of ``registry`` at ``when`` (epoch seconds)."""
    millis = round(when * 1000)
    return [
        (millis, service, instance, sample.name, dict(sample.labels), float(sample.value))
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    ]


class MetricSnapshots:
    """The exporter job that offers a snapshot of ``registry`` to ``channel`` each time it runs."""

    def __init__(
        self,
        registry: CollectorRegistry,
        channel: Channel[Row],
        service: str,
        instance: str,
        clock: WallClock,
    ) -> None:
        self._registry = registry
        self._channel = channel
        self._service = service
        self._instance = instance
        self._clock = clock

    def __call__(self) -> None:
        for row in snapshot_rows(self._registry, self._service, self._instance, self._clock.time()):
            self._channel.offer(row)
