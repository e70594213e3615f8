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

When the standard ``OTEL_*`` configuration (``settings.otel``) asks for OTLP, spans and logs are
also sent over OTLP (:mod:`tickwatch.telemetry.otlp`; the SDK's batch processors, bounded
queues). ``telemetry.clickhouse_traces`` / ``telemetry.clickhouse_logs`` turn the direct
ClickHouse writes of those two signals off, e.g. when a collector writes the same tables.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from loguru import logger
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry

from tickwatch.clients import clickhouse_client
from tickwatch.clock import SYSTEM_CLOCK, WallClock
from tickwatch.deadline import Deadline
from tickwatch.settings import OtelSettings, Settings, TelemetrySettings
from tickwatch.telemetry.catalog import (
    IngestMetrics,
    LoadMetrics,
    MonitorMetrics,
    ServiceMetrics,
    TelemetryMetrics,
    package_version,
)
from tickwatch.telemetry.export import Exporter, ExporterConfig, Row, RowWriter
from tickwatch.telemetry.heartbeats import HEARTBEATS_TABLE, Heartbeat, default_instance
from tickwatch.telemetry.logging import (
    LOGS_TABLE,
    ClickHouseLogSink,
    OtlpLogSink,
    configure_logging,
)
from tickwatch.telemetry.otlp import (
    CountingLogExporter,
    CountingSpanExporter,
    log_exporter,
    resolve,
    span_exporter,
)
from tickwatch.telemetry.server import MetricsServer, serve
from tickwatch.telemetry.snapshots import METRICS_TABLE, MetricSnapshots
from tickwatch.telemetry.tracing import (
    TRACES_TABLE,
    ChannelSpanProcessor,
    build_tracer_provider,
    install_global,
    release_global,
    resource_attributes,
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
OTLP_SCHEDULE_DELAY_MS = 1_000
OTLP_BATCH_MAX = 512


@dataclass
class _Parts:
    server: MetricsServer
    exporter: Exporter
    heartbeat: Heartbeat
    per_symbol_limit: int
    provider: TracerProvider | None = None
    log_handler: int | None = None
    log_provider: LoggerProvider | None = None
    otlp_log_handler: int | None = None
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
        config = ExporterConfig(flush_interval_s=tel.flush_interval_s)
        exporter = Exporter(writer or NullRowWriter(), counters, config)
        beat = Heartbeat(service_metrics, None, service, instance, clock=clock, health=health)
        parts = _Parts(server, exporter, beat, tel.per_symbol_labels_max)
        if tel.enabled:
            who = _Identity(service, instance, registry, clock, settings.otel)
            _wire_exporters(parts, who, tel)
            _wire_otlp(parts, who, tel, counters)
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

        Order: detach the log sinks and the tracer (nothing new is queued), shut the SDK
        providers down (their OTLP batch processors flush; an unreachable collector is given
        ``timeout`` at most), end the exporter (one last write within what is left of
        ``timeout``; leftovers are counted as dropped), then close the HTTP endpoint. Calling
        it again does nothing.
        """
        parts = self._parts
        if parts.closed:
            return
        parts.closed = True
        for handler in (parts.log_handler, parts.otlp_log_handler):
            if handler is not None:
                logger.remove(handler)
        parts.log_handler = parts.otlp_log_handler = None
        if parts.provider is not None:
            release_global(parts.provider)
        deadline = Deadline(timeout, SYSTEM_CLOCK)
        _shutdown_within([parts.provider, parts.log_provider], timeout)
        parts.exporter.close(max(0.1, deadline.remaining()))
        parts.server.close(timeout)


@dataclass(frozen=True)
class _Identity:
    service: str
    instance: str
    registry: CollectorRegistry
    clock: WallClock
    otel: OtelSettings

    @property
    def resource(self) -> dict[str, str]:
        """OpenTelemetry resource attributes shared by spans and logs (``OTEL_*`` applied)."""
        defaults = {
            "service.name": self.service,
            "service.instance.id": self.instance,
            "service.version": package_version(),
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": _sdk_version(),
        }
        return resource_attributes(defaults, self.otel)


def _wire_exporters(parts: _Parts, who: _Identity, tel: TelemetrySettings) -> None:
    """Add the four channels and the snapshot job to the exporter; set up tracing if enabled."""
    exporter, resource = parts.exporter, who.resource
    if tel.traces_enabled and not who.otel.sdk_disabled:
        parts.provider = build_tracer_provider(resource, tel, who.otel)
        if tel.clickhouse_traces:
            spans = exporter.channel("traces", TRACES_TABLE, span_row, tel.export_queue_max)
            parts.provider.add_span_processor(ChannelSpanProcessor(spans))
    if tel.clickhouse_logs:
        logs = exporter.channel("logs", LOGS_TABLE, _same_row, tel.export_queue_max)
        sink = ClickHouseLogSink(logs, resource["service.name"], resource)
        parts.log_handler = logger.add(
            sink, level=tel.clickhouse_log_level, filter=sink.accepts, format="{message}"
        )
    samples = exporter.channel("metrics", METRICS_TABLE, _same_row, tel.export_queue_max)
    snapshots = MetricSnapshots(who.registry, samples, who.service, who.instance, who.clock)
    exporter.every(tel.export_interval_s, snapshots)
    beats = exporter.channel("heartbeats", HEARTBEATS_TABLE, _same_row, HEARTBEAT_QUEUE_MAX)
    parts.heartbeat.channel = beats


def _wire_otlp(
    parts: _Parts, who: _Identity, tel: TelemetrySettings, counters: TelemetryMetrics
) -> None:
    """Add the OTLP span processor and log sink that ``settings.otel`` asks for (maybe none).

    Batches the exporter gives up on count in ``tickwatch_telemetry_dropped_total{signal}``;
    the SDK's own queue overflowing (``export_queue_max``) is logged by the SDK, not counted.
    """
    traces, logs = resolve(who.otel, "traces"), resolve(who.otel, "logs")
    # Every batch option is given, so the SDK does not read OTEL_BSP_* / OTEL_BLRP_* itself.
    if traces is not None and parts.provider is not None:
        processor = BatchSpanProcessor(
            CountingSpanExporter(span_exporter(traces), counters.dropped),
            max_queue_size=tel.export_queue_max,
            schedule_delay_millis=OTLP_SCHEDULE_DELAY_MS,
            max_export_batch_size=OTLP_BATCH_MAX,
            export_timeout_millis=traces.timeout_s * 1000,
        )
        parts.provider.add_span_processor(processor)
    if logs is not None:
        provider = LoggerProvider(resource=Resource(who.resource), shutdown_on_exit=False)
        provider.add_log_record_processor(
            BatchLogRecordProcessor(
                CountingLogExporter(log_exporter(logs), counters.dropped),
                max_queue_size=tel.export_queue_max,
                schedule_delay_millis=OTLP_SCHEDULE_DELAY_MS,
                max_export_batch_size=OTLP_BATCH_MAX,
                export_timeout_millis=logs.timeout_s * 1000,
            )
        )
        parts.log_provider = provider
        parts.otlp_log_handler = logger.add(
            OtlpLogSink(provider),
            level=tel.clickhouse_log_level,
            filter=ClickHouseLogSink.accepts,
            format="{message}",
        )


def _shutdown_within(
    providers: list[TracerProvider | LoggerProvider | None], timeout: float
) -> None:
    """Shut ``providers`` down in parallel; stop waiting after ``timeout`` (daemon threads)."""
    threads = [
        threading.Thread(target=p.shutdown, name="otel-shutdown", daemon=True)
        for p in providers
        if p is not None
    ]
    deadline = Deadline(timeout, SYSTEM_CLOCK)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline.remaining())


def _sdk_version() -> str:
    from importlib.metadata import version

    return version("opentelemetry-sdk")


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
    # the telemetry role's user: INSERT on the telemetry tables only (tickwatch/access.py)
    quick = ch.as_role("telemetry").model_copy(update={"send_receive_timeout_s": timeout})
    return ClickHouseRowWriter(lambda: clickhouse_client(quick, url), ch.ops_database)
