"""Three loopback /metrics endpoints (ingest, load, monitor) fed through the telemetry catalog.

What a real Prometheus scrapes in the PromQL tests: each endpoint is the worker's own server
(:func:`tickwatch.telemetry.server.serve`) on a registry filled only through the catalog's
facades, so every series a dashboard or rule names exists with the worker's real names, labels,
buckets and types. A feeder thread records a little of everything, errors included, every
``period_s`` (a healthy real worker never produces error series, which would leave those panels
empty), so rates and histograms have moving data.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from tickwatch.telemetry.catalog import (
    IngestMetrics,
    LoadMetrics,
    MonitorMetrics,
    ServiceMetrics,
    TelemetryMetrics,
)
from tickwatch.telemetry.server import MetricsServer, serve

LOOPBACK = "127.0.0.1"
TOPICS = ("ticks.trades", "ticks.quotes")
TABLES = ("market.trades", "market.quotes")


@dataclass
class CatalogExporters:
    """The three endpoints and the thread that keeps their metrics moving."""

    period_s: float = 0.2
    servers: dict[str, MetricsServer] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> dict[str, int]:
        """Serve ingest, load and monitor metrics on loopback; returns job -> port."""
        registries = {job: CollectorRegistry() for job in ("ingest", "load", "monitor")}
        services = {job: ServiceMetrics(reg, job) for job, reg in registries.items()}
        telemetry = [TelemetryMetrics(registries[job]) for job in ("ingest", "load")]
        ingest = IngestMetrics(registries["ingest"], per_symbol_limit=10)
        load = LoadMetrics(registries["load"])
        monitor = MonitorMetrics(registries["monitor"])
        for job, registry in registries.items():
            self.servers[job] = serve(registry, LOOPBACK, 0, lambda: True)

        def feed() -> None:
            step = 0
            while not self._stop.wait(self.period_s):
                step += 1
                now = time.time()
                for service in services.values():
                    service.heartbeat(now)
                for sink in telemetry:
                    sink.exported("traces", 5)
                    sink.exported("logs", 20)
                _feed_ingest(ingest, now, step)
                _feed_load(load, step)
                _feed_monitor(monitor, step)

        self._thread = threading.Thread(target=feed, name="catalog-feeder", daemon=True)
        self._thread.start()
        return {job: server.port for job, server in self.servers.items()}

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for server in self.servers.values():
            server.close()


def _feed_ingest(metrics: IngestMetrics, now: float, step: int) -> None:
    metrics.produced("simulator", "trade", 60)
    metrics.produced("simulator", "quote", 30)
    metrics.source_message("simulator", 90)
    metrics.source_record_seen("simulator", now)
    metrics.symbol_record("AAPL", now, 30)
    metrics.delivery_latency(0.004 + (step % 5) / 1000)
    metrics.queue_depth(step % 50)
    metrics.produce_error("simulator", "queue_full")
    metrics.source_dropped("simulator", "stale")
    if step % 5 == 0:
        metrics.source_reconnect("simulator")


def _feed_load(metrics: LoadMetrics, step: int) -> None:
    for index, (topic, table) in enumerate(zip(TOPICS, TABLES, strict=True)):
        metrics.records_consumed(topic, 45)
        metrics.rows_inserted(table, 44)
        metrics.batch_inserted(table, 44, 0.01 + index / 100)
        metrics.consumer_lag(topic, index, 100 + step % 20, 0.5 + index)
    latencies = [0.05 * (i + 1) for i in range(20)]
    metrics.end_to_end("trade", latencies, [v / 2 for v in latencies])
    metrics.dead_letter("invalid_json")
    metrics.clickhouse_retry()
    metrics.paused_partitions(step % 2)
    if step % 10 == 0:
        metrics.commit_failure()


def _feed_monitor(metrics: MonitorMetrics, step: int) -> None:
    metrics.check_run("consumer_lag", "ticks.trades", "OK", 0.003)
    metrics.check_run("freshness", "AAPL", "WARN" if step % 20 < 10 else "OK", 0.002)
    metrics.alerts_open("CRIT", 1)
    metrics.alerts_open("WARN", 0)
    metrics.notification("sent")
    metrics.outbox_pending(0)
