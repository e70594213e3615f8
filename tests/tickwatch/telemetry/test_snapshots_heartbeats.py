"""Registry snapshots and heartbeats, with a fake clock."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from tickwatch.clock import ManualClock
from tickwatch.telemetry.catalog import LoadMetrics, ServiceMetrics, TelemetryMetrics
from tickwatch.telemetry.export import Channel, Row
from tickwatch.telemetry.heartbeats import HEARTBEATS_TABLE, Heartbeat
from tickwatch.telemetry.snapshots import METRICS_TABLE, MetricSnapshots, snapshot_rows


def channel(registry: CollectorRegistry, signal: str, table_rows: int = 1000) -> Channel[Row]:
    table = METRICS_TABLE if signal == "metrics" else HEARTBEATS_TABLE
    return Channel(signal, table, lambda r: r, table_rows, TelemetryMetrics(registry))


def test_snapshot_has_one_row_per_sample_without_created() -> None:
    registry = CollectorRegistry()
    load = LoadMetrics(registry)
    load.rows_inserted("trades", 5)
    load.batch_inserted("trades", 5, 0.01)
    rows = snapshot_rows(registry, "load", "h:1", 1_700_000_000.25)
    by_metric = {(r[3], tuple(sorted(r[4].items()))): r for r in rows}
    row = by_metric[("tickwatch_load_rows_inserted_total", (("table", "trades"),))]
    assert row == (1_700_000_000_250, "load", "h:1", "tickwatch_load_rows_inserted_total",
                   {"table": "trades"}, 5.0)  # fmt: skip
    assert ("tickwatch_load_batch_rows_count", (("table", "trades"),)) in by_metric
    assert not [r for r in rows if r[3].endswith("_created")]
    assert all(len(r) == len(METRICS_TABLE.columns) for r in rows)


def test_snapshot_job_offers_rows_and_counts_drops() -> None:
    registry = CollectorRegistry()
    LoadMetrics(registry).rows_inserted("quotes", 1)
    chan = channel(registry, "metrics", table_rows=3)
    MetricSnapshots(registry, chan, "load", "h:1", ManualClock(10.0))()
    assert len(chan) == 3
    dropped = registry.get_sample_value("tickwatch_telemetry_dropped_total", {"signal": "metrics"})
    assert dropped is not None and dropped > 0


def test_heartbeat_sets_the_gauge_and_offers_a_row() -> None:
    registry = CollectorRegistry()
    now = ManualClock(1000.0)
    chan = channel(registry, "heartbeats")
    beat = Heartbeat(ServiceMetrics(registry, "ingest", "1"), chan, "ingest", "h:7", clock=now)
    now.set(1005.5)
    beat()
    gauge = registry.get_sample_value(
        "tickwatch_heartbeat_timestamp_seconds", {"service": "ingest"}
    )
    assert gauge == 1005.5
    (row,) = chan.take(5)
    time_ms, service, instance, _host, pid, started, status, details = row
    assert (time_ms, service, instance, started, status, details) == (
        1_005_500, "ingest", "h:7", 1_000_000, "ok", {},
    )  # fmt: skip
    assert pid > 0


def test_heartbeat_reports_unhealthy_and_survives_a_raising_callback() -> None:
    registry = CollectorRegistry()
    chan = channel(registry, "heartbeats")
    beat = Heartbeat(ServiceMetrics(registry, "load"), chan, "load", "i", clock=ManualClock(1.0))
    beat.health = lambda: False
    beat()

    def broken() -> bool:
        raise RuntimeError("boom")

    beat.health = broken
    beat()
    assert [r[6] for r in chan.take(5)] == ["unhealthy", "unhealthy"]


def test_heartbeat_without_a_channel_only_sets_the_gauge() -> None:
    registry = CollectorRegistry()
    Heartbeat(ServiceMetrics(registry, "monitor"), None, "monitor", "i", clock=ManualClock(42.0))()
    gauge = registry.get_sample_value(
        "tickwatch_heartbeat_timestamp_seconds", {"service": "monitor"}
    )
    assert gauge == 42.0
