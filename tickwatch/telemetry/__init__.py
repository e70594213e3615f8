"""Telemetry for every tickwatch worker: metrics, traces, logs, snapshots and heartbeats.

An entry point does, once::

    configure_logging("load", settings.telemetry)
    telemetry = Telemetry.start("load", settings, clickhouse_url)
    metrics = telemetry.load_metrics  # or LoadMetrics(telemetry.registry)
    ...  # worker code uses trace.get_tracer(__name__) and loguru's logger
    telemetry.close(timeout=5)

``Telemetry.start`` builds a fresh registry (build info, heartbeat gauge, process CPU/RSS,
telemetry counters), serves it on ``/metrics`` and ``/healthz``, and, unless
``telemetry.enabled`` is False, starts one daemon exporter thread that writes spans to
``{ops}.otel_traces``, INFO+ logs to ``{ops}.otel_logs``, registry snapshots to
``{ops}.pipeline_metrics`` and heartbeats to ``{ops}.heartbeats``. Nothing on the worker's path
blocks on ClickHouse: queues are bounded and overflow is counted in
``tickwatch_telemetry_dropped_total{signal}``. With ``enabled=False`` only the endpoint and the
heartbeat gauge run (no exporters, no-op tracer), for the overhead benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from loguru import logger
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from tickwatch.clients import clickhouse_client
from tickwatch.clock import SYSTEM_CLOCK, WallClock
from tickwatch.settings import Settings, TelemetrySettings
from tickwatch.telemetry.catalog import (
    IngestMetrics,
    LoadMetrics,
    MonitorMetrics,
    ServiceMetrics,
    TelemetryMetrics,
    package_version,
)
from tickwatch.telemetry.export import Exporter, Row, RowWriter
from tickwatch.telemetry.heartbeats import HEARTBEATS_TABLE, Heartbeat, default_instance
from tickwatch.telemetry.logging import LOGS_TABLE, ClickHouseLogSink, configure_logging
from tickwatch.telemetry.server import MetricsServer, serve
from tickwatch.telemetry.snapshots import METRICS_TABLE, MetricSnapshots
from tickwatch.telemetry.tracing import (
    TRACES_TABLE,
    ChannelSpanProcessor,
    build_tracer_provider,
    install_global,
    release_global,
    span_row,
)
from tickwatch.telemetry.writer import ClickHouseRowWriter, NullRowWriter

__all__ = [
    "IngestMetrics",
    "LoadMetrics",
    "MonitorMetrics",
    "Telemetry",
    "configure_logging",
]

HEARTBEAT_QUEUE_MAX = 1_000
TELEMETRY_SEND_TIMEOUT_S = 10.0


@dataclass
class _Parts:
    server: MetricsServer
    exporter: Exporter
    heartbeat: Heartbeat
    per_symbol_limit: int
    provider: TracerProvider | None = None
    log_handler: int | None = None
    closed: bool = False


class Telemetry:
    """A worker's running telemetry. Build it with :meth:`start`; stop it with :meth:`close`."""

    def __init__(
        self, service: str, instance: str, registry: CollectorRegistry, parts: _Parts
    ) -> None:
        self.service = service
        self.instance = instance
        self.registry = registry
        self._parts = parts
        provider = parts.provider or trace.NoOpTracerProvider()
        self.tracer: trace.Tracer = provider.get_tracer(f"tickwatch.{service}", package_version())

    @cached_property
    def ingest_metrics(self) -> IngestMetrics:
        """The ingest facade on this registry, with ``telemetry.per_symbol_labels_max`` applied."""
        return IngestMetrics(self.registry, self._parts.per_symbol_limit)

    @cached_property
    def load_metrics(self) -> LoadMetrics:
        """The load worker's facade on this registry."""
        return LoadMetrics(self.registry)

    @cached_property
    def monitor_metrics(self) -> MonitorMetrics:
        """The monitor's facade on this registry."""
        return MonitorMetrics(self.registry)

    @property
    def port(self) -> int:
        """The port ``/metrics`` and ``/healthz`` are served on."""
        return self._parts.server.port

    @property
    def url(self) -> str:
        """``http://host:port`` of the metrics endpoint."""
        return self._parts.server.url

    @classmethod
    def start(
        cls,
        service: str,
        settings: Settings,
        clickhouse_url: str,
        *,
        metrics_port: int | None = None,
        instance: str = "",
        health: Callable[[], bool] = lambda: True,
        clock: WallClock = SYSTEM_CLOCK,
        writer: RowWriter | None = None,
    ) -> Telemetry:
        """Start everything; raises OSError when the metrics port cannot be bound.

        ``metrics_port`` defaults to the service's setting (``ingest.metrics_port``...; 0 for
        other services = ephemeral). ``writer`` replaces the ClickHouse writer (tests).
        ClickHouse is not contacted here: an unreachable server only shows up as drops.
        """
        instance = instance or default_instance()
        registry = CollectorRegistry()
        service_metrics = ServiceMetrics(registry, service)
        counters = TelemetryMetrics(registry)
        port = _default_port(service, settings) if metrics_port is None else metrics_port
        server = serve(registry, settings.telemetry.metrics_host, port, health)
        tel = settings.telemetry
        if writer is None and tel.enabled:
            writer = _clickhouse_writer(settings, clickhouse_url)
        exporter = Exporter(writer or NullRowWriter(), counters)
        beat = Heartbeat(service_metrics, None, service, instance, clock=clock, health=health)
        parts = _Parts(server, exporter, beat, tel.per_symbol_labels_max)
        if tel.enabled:
            _wire_exporters(parts, _Identity(service, instance, registry, clock), tel)
        exporter.every(tel.heartbeat_interval_s, parts.heartbeat)
        install_global(parts.provider)
        exporter.start()
        return cls(service, instance, registry, parts)

    def set_health(self, health: Callable[[], bool]) -> None:
        """Replace the callback behind ``/healthz`` and the heartbeat's status."""
        self._parts.heartbeat.health = health
        self._parts.server.set_health(health)

    def flush(self) -> bool:
        """Write everything queued now (blocks on ClickHouse); True if nothing is left."""
        return self._parts.exporter.flush()

    def close(self, timeout: float = 5.0) -> None:
        """Stop producers, flush what is queued, stop the thread and the endpoint.

        Order: detach the log sink and the tracer (nothing new is queued), end the exporter
        (one last write, bounded by ``timeout``; leftovers are counted as dropped), then close
        the HTTP endpoint. Calling it again does nothing.
        """
        parts = self._parts
        if parts.closed:
            return
        parts.closed = True
        if parts.log_handler is not None:
            logger.remove(parts.log_handler)
            parts.log_handler = None
        if parts.provider is not None:
            release_global(parts.provider)
            parts.provider.shutdown()
        parts.exporter.close(timeout)
        parts.server.close(timeout)


@dataclass(frozen=True)
class _Identity:
    service: str
    instance: str
    registry: CollectorRegistry
    clock: WallClock

    @property
    def resource(self) -> dict[str, str]:
        """OpenTelemetry resource attributes shared by spans and logs."""
        return {
            "service.name": self.service,
            "service.instance.id": self.instance,
            "service.version": package_version(),
        }


def _wire_exporters(parts: _Parts, who: _Identity, tel: TelemetrySettings) -> None:
    """Add the four channels and the snapshot job to the exporter; set up tracing if enabled."""
    exporter, resource = parts.exporter, who.resource
    if tel.traces_enabled:
        spans = exporter.channel("traces", TRACES_TABLE, span_row, tel.export_queue_max)
        parts.provider = build_tracer_provider(resource, tel)
        parts.provider.add_span_processor(ChannelSpanProcessor(spans))
    logs = exporter.channel("logs", LOGS_TABLE, _same_row, tel.export_queue_max)
    sink = ClickHouseLogSink(logs, who.service, resource)
    parts.log_handler = logger.add(
        sink, level=tel.clickhouse_log_level, filter=sink.accepts, format="{message}"
    )
    samples = exporter.channel("metrics", METRICS_TABLE, _same_row, tel.export_queue_max)
    snapshots = MetricSnapshots(who.registry, samples, who.service, who.instance, who.clock)
    exporter.every(tel.export_interval_s, snapshots)
    beats = exporter.channel("heartbeats", HEARTBEATS_TABLE, _same_row, HEARTBEAT_QUEUE_MAX)
    parts.heartbeat.channel = beats


def _same_row(row: Row) -> Row:
    return row


def metrics_ports(settings: Settings) -> dict[str, int]:
    """Service -> the port its ``/metrics`` and ``/healthz`` listen on: the one statement of it."""
    return {
        "ingest": settings.ingest.metrics_port,
        "load": settings.load.metrics_port,
        "monitor": settings.monitor.metrics_port,
    }


def _default_port(service: str, settings: Settings) -> int:
    return metrics_ports(settings).get(service, 0)


def _clickhouse_writer(settings: Settings, url: str) -> ClickHouseRowWriter:
    ch = settings.clickhouse
    timeout = min(ch.send_receive_timeout_s, TELEMETRY_SEND_TIMEOUT_S)
    quick = ch.model_copy(update={"send_receive_timeout_s": timeout})
    return ClickHouseRowWriter(lambda: clickhouse_client(quick, url), ch.ops_database)
