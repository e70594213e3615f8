"""The metric catalog and the facades, on a fresh registry per test."""

from __future__ import annotations

import re

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from tickwatch.telemetry import definitions
from tickwatch.telemetry.catalog import (
    CATALOG,
    IngestMetrics,
    Kind,
    LoadMetrics,
    MonitorMetrics,
    ServiceMetrics,
    TelemetryMetrics,
)

CONTRACT_NAMES = {
    "tickwatch_ingest_records_total", "tickwatch_ingest_produce_errors_total",
    "tickwatch_ingest_delivery_latency_seconds", "tickwatch_ingest_producer_queue_depth",
    "tickwatch_source_messages_total", "tickwatch_source_dropped_total",
    "tickwatch_source_reconnects_total", "tickwatch_source_auth_failures_total",
    "tickwatch_source_seconds_since_last_record", "tickwatch_load_records_consumed_total",
    "tickwatch_load_rows_inserted_total", "tickwatch_load_dead_letters_total",
    "tickwatch_load_batch_rows", "tickwatch_load_insert_duration_seconds",
    "tickwatch_load_event_to_insert_seconds", "tickwatch_load_kafka_to_insert_seconds",
    "tickwatch_load_consumer_lag", "tickwatch_load_consumer_lag_seconds",
    "tickwatch_load_commit_failures_total", "tickwatch_load_clickhouse_retries_total",
    "tickwatch_load_paused_partitions", "tickwatch_telemetry_exported_total",
    "tickwatch_telemetry_dropped_total", "tickwatch_heartbeat_timestamp_seconds",
    "process_cpu_seconds_total", "process_resident_memory_bytes", "tickwatch_build_info",
    "tickwatch_monitor_check_runs_total", "tickwatch_monitor_check_status",
    "tickwatch_monitor_check_duration_seconds", "tickwatch_alerts_open",
    "tickwatch_alert_notifications_total", "tickwatch_alert_outbox_pending",
}  # fmt: skip


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def test_catalog_covers_the_contract_and_follows_conventions() -> None:
    names = [d.name for d in CATALOG]
    assert len(names) == len(set(names))
    assert set(names) >= CONTRACT_NAMES
    for d in CATALOG:
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", d.name)
        assert d.name.endswith("_total") == (d.kind is Kind.COUNTER), d.name
        assert not d.unit or d.name.removesuffix("_total").endswith("_" + d.unit), d.name
        assert bool(d.buckets) == (d.kind is Kind.HISTOGRAM), d.name
        assert d.name.startswith("tickwatch_") or d.provided_by


def test_every_facade_registers_its_catalog_metrics_on_one_registry() -> None:
    registry = CollectorRegistry()
    IngestMetrics(registry)
    LoadMetrics(registry)
    MonitorMetrics(registry)
    ServiceMetrics(registry, "load", "1.2.3")
    TelemetryMetrics(registry)
    exposed = generate_latest(registry).decode()
    for d in CATALOG:
        if not d.provided_by:
            assert f"# TYPE {d.name} {d.kind}" in exposed, d.name


def test_ingest_facade() -> None:
    registry = CollectorRegistry()
    m = IngestMetrics(registry)
    m.produced("simulator", "trade", 500)
    m.produced("simulator", "trade")
    m.produce_error("simulator", "queue_full")
    m.delivery_latency(0.003)
    m.queue_depth(42)
    m.source_message("simulator", 3)
    m.source_dropped("simulator", "parse", 2)
    m.source_reconnect("simulator")
    m.source_auth_failure("alpaca")
    get = registry.get_sample_value
    assert get("tickwatch_ingest_records_total", {"source": "simulator", "type": "trade"}) == 501
    labels = {"source": "simulator", "reason": "queue_full"}
    assert get("tickwatch_ingest_produce_errors_total", labels) == 1
    assert get("tickwatch_ingest_delivery_latency_seconds_bucket", {"le": "0.005"}) == 1
    assert get("tickwatch_ingest_delivery_latency_seconds_bucket", {"le": "0.0025"}) == 0
    assert get("tickwatch_ingest_producer_queue_depth") == 42
    assert get("tickwatch_source_messages_total", {"source": "simulator"}) == 3
    assert get("tickwatch_source_dropped_total", {"source": "simulator", "reason": "parse"}) == 2
    assert get("tickwatch_source_reconnects_total", {"source": "simulator"}) == 1
    assert get("tickwatch_source_auth_failures_total", {"source": "alpaca"}) == 1


def test_seconds_since_last_record_is_computed_at_scrape_time() -> None:
    registry = CollectorRegistry()
    clock = FakeClock(1000.0)
    m = IngestMetrics(registry, clock=clock)
    m.source_record_seen("replay", 990.0)
    m.source_record_seen("replay", 980.0)  # older than what we have: ignored
    name = "tickwatch_source_seconds_since_last_record"
    assert registry.get_sample_value(name, {"source": "replay"}) == 10.0
    clock.now = 1025.5
    assert registry.get_sample_value(name, {"source": "replay"}) == 35.5
    clock.now = 900.0  # clock stepped back: never negative
    assert registry.get_sample_value(name, {"source": "replay"}) == 0.0


def test_per_symbol_series_only_below_the_limit() -> None:
    registry = CollectorRegistry()
    clock = FakeClock(100.0)
    m = IngestMetrics(registry, per_symbol_limit=3, clock=clock)
    for symbol in ("AAPL", "MSFT", "SPY"):
        m.symbol_record(symbol, 90.0, 2)
    get = registry.get_sample_value
    assert get("tickwatch_ingest_symbol_records_total", {"symbol": "SPY"}) == 2
    assert get("tickwatch_symbol_seconds_since_last_record", {"symbol": "AAPL"}) == 10.0
    m.symbol_record("QQQ", 95.0)
    exposed = generate_latest(registry).decode()
    assert 'symbol="' not in exposed
    m.symbol_record("AAPL", 99.0)
    assert 'symbol="' not in generate_latest(registry).decode()


def test_per_symbol_limit_zero_disables_symbol_labels() -> None:
    registry = CollectorRegistry()
    IngestMetrics(registry, per_symbol_limit=0).symbol_record("AAPL", 1.0)
    assert 'symbol="' not in generate_latest(registry).decode()


def test_load_facade() -> None:
    registry = CollectorRegistry()
    m = LoadMetrics(registry)
    m.records_consumed("ticks.trades", 100)
    m.rows_inserted("trades", 98)
    m.dead_letter("schema", 2)
    m.batch_inserted("trades", 98, 0.04)
    m.consumer_lag("ticks.trades", 3, 1200, 1.5)
    m.commit_failure()
    m.clickhouse_retry()
    m.paused_partitions(2)
    get = registry.get_sample_value
    assert get("tickwatch_load_records_consumed_total", {"topic": "ticks.trades"}) == 100
    assert get("tickwatch_load_rows_inserted_total", {"table": "trades"}) == 98
    assert get("tickwatch_load_dead_letters_total", {"reason": "schema"}) == 2
    assert get("tickwatch_load_batch_rows_bucket", {"table": "trades", "le": "100.0"}) == 1
    assert get("tickwatch_load_insert_duration_seconds_sum", {"table": "trades"}) == 0.04
    lag = {"topic": "ticks.trades", "partition": "3"}
    assert get("tickwatch_load_consumer_lag", lag) == 1200
    assert get("tickwatch_load_consumer_lag_seconds", lag) == 1.5
    assert get("tickwatch_load_commit_failures_total") == 1
    assert get("tickwatch_load_clickhouse_retries_total") == 1
    assert get("tickwatch_load_paused_partitions") == 2


def test_end_to_end_bulk_histogram_matches_one_by_one_observation() -> None:
    registry = CollectorRegistry()
    m = LoadMetrics(registry)
    rng = np.random.default_rng(7)
    event = rng.exponential(0.5, 50_000)
    kafka = [0.01, 0.02, float("nan"), -0.5, 400.0]
    m.end_to_end("trade", event, kafka)
    m.end_to_end("trade", [], [])
    get = registry.get_sample_value
    name = "tickwatch_load_event_to_insert_seconds"
    for bound in definitions.END_TO_END_BUCKETS:
        expected = int((event <= bound).sum())
        assert get(f"{name}_bucket", {"type": "trade", "le": str(bound)}) == expected
    assert get(f"{name}_count", {"type": "trade"}) == 50_000
    assert get(f"{name}_sum", {"type": "trade"}) == pytest.approx(float(event.sum()))
    kname = "tickwatch_load_kafka_to_insert_seconds"
    assert get(f"{kname}_count", {"type": "trade"}) == 4  # NaN ignored
    assert get(f"{kname}_bucket", {"type": "trade", "le": "0.01"}) == 2  # -0.5 clamped to 0
    assert get(f"{kname}_bucket", {"type": "trade", "le": "300.0"}) == 3
    assert get(f"{kname}_bucket", {"type": "trade", "le": "+Inf"}) == 4
    assert get(f"{kname}_sum", {"type": "trade"}) == pytest.approx(400.03)


def test_monitor_facade_maps_statuses_to_codes() -> None:
    registry = CollectorRegistry()
    m = MonitorMetrics(registry)
    m.check_run("consumer_lag", "ticks.trades", "warn", 0.2)
    m.check_run("consumer_lag", "ticks.trades", "CRIT", 0.1)
    m.check_run("freshness", "AAPL", "bogus", 0.1)
    m.alerts_open("critical", 2)
    m.notification("sent")
    m.outbox_pending(5)
    get = registry.get_sample_value
    runs = "tickwatch_monitor_check_runs_total"
    assert get(runs, {"check": "consumer_lag", "status": "WARN"}) == 1
    assert get(runs, {"check": "freshness", "status": "UNKNOWN"}) == 1
    status = "tickwatch_monitor_check_status"
    assert get(status, {"check": "consumer_lag", "target": "ticks.trades"}) == 2
    assert get(status, {"check": "freshness", "target": "AAPL"}) == 3
    assert get("tickwatch_monitor_check_duration_seconds_count", {"check": "consumer_lag"}) == 2
    assert get("tickwatch_alerts_open", {"severity": "critical"}) == 2
    assert get("tickwatch_alert_notifications_total", {"status": "sent"}) == 1
    assert get("tickwatch_alert_outbox_pending") == 5


def test_service_and_telemetry_facades() -> None:
    registry = CollectorRegistry()
    service = ServiceMetrics(registry, "ingest", "9.9.9")
    service.heartbeat(1_700_000_000.5)
    telemetry = TelemetryMetrics(registry)
    telemetry.exported("traces", 10)
    telemetry.dropped("logs")
    get = registry.get_sample_value
    assert get("tickwatch_build_info", {"version": "9.9.9", "service": "ingest"}) == 1
    assert get("tickwatch_heartbeat_timestamp_seconds", {"service": "ingest"}) == 1_700_000_000.5
    assert get("tickwatch_telemetry_exported_total", {"signal": "traces"}) == 10
    assert get("tickwatch_telemetry_dropped_total", {"signal": "logs"}) == 1
    assert get("tickwatch_telemetry_dropped_total", {"signal": "metrics"}) == 0


def test_build_info_defaults_to_a_version() -> None:
    registry = CollectorRegistry()
    ServiceMetrics(registry, "monitor")
    text = generate_latest(registry).decode()
    assert re.search(r'tickwatch_build_info\{service="monitor",version="[^"]+"\} 1\.0', text)


def test_a_facade_cannot_be_registered_twice_on_one_registry() -> None:
    registry = CollectorRegistry()
    LoadMetrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        LoadMetrics(registry)


def test_consumer_lag_updates_each_partitions_own_series() -> None:
    """The lag series are looked up once per partition and then set in place (issue 18)."""
    registry = CollectorRegistry()
    m = LoadMetrics(registry)
    for offsets, seconds in ((5, 0.5), (0, 0.0), (7, 2.25)):
        m.consumer_lag("ticks.trades", 0, offsets, seconds)
    m.consumer_lag("ticks.trades", 1, 3, 1.0)
    m.consumer_lag("ticks.quotes", 0, 9, 4.0)
    get = registry.get_sample_value
    expected = {("ticks.trades", "0"): (7, 2.25), ("ticks.trades", "1"): (3, 1.0),
                ("ticks.quotes", "0"): (9, 4.0)}  # fmt: skip
    for (topic, partition), (offsets, seconds) in expected.items():
        lag = {"topic": topic, "partition": partition}
        assert get("tickwatch_load_consumer_lag", lag) == offsets
        assert get("tickwatch_load_consumer_lag_seconds", lag) == seconds
