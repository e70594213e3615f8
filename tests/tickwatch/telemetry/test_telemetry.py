"""The Telemetry facade end to end, with an in-memory writer instead of ClickHouse."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from loguru import logger
from opentelemetry import trace

from tickwatch.settings import Settings, TelemetrySettings
from tickwatch.telemetry import Telemetry
from tickwatch.telemetry.heartbeats import HEARTBEATS_TABLE
from tickwatch.telemetry.logging import LOGS_TABLE
from tickwatch.telemetry.tracing import TRACES_TABLE
from tickwatch.telemetry.writer import MemoryRowWriter


def settings(**telemetry: Any) -> Settings:
    return Settings(_env_file=None, telemetry=TelemetrySettings(**telemetry))


def docs(writer: MemoryRowWriter, table: str, columns: list[str]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in writer.rows(table)]


def test_start_wires_traces_logs_snapshots_and_heartbeats() -> None:
    writer = MemoryRowWriter()
    tel = Telemetry.start(
        "load", settings(), "http://unused", metrics_port=0, instance="i1", writer=writer
    )
    try:
        inner = trace.get_tracer("pipeline.load")
        with (
            tel.tracer.start_as_current_span("load.poll") as poll,
            inner.start_as_current_span("load.insert"),
        ):
            logger.info("inserted")
        response = httpx.get(f"{tel.url}/metrics")
    finally:
        tel.close(timeout=10)
    assert 'tickwatch_build_info{service="load"' in response.text
    assert "process_resident_memory_bytes" in response.text
    spans = docs(writer, "otel_traces", TRACES_TABLE.column_names)
    by_name = {s["SpanName"]: s for s in spans}
    trace_id = format(poll.get_span_context().trace_id, "032x")
    assert by_name["load.insert"]["ParentSpanId"] == by_name["load.poll"]["SpanId"]
    assert {s["TraceId"] for s in spans} == {trace_id}
    assert by_name["load.poll"]["ResourceAttributes"]["service.instance.id"] == "i1"
    logs = [
        d for d in docs(writer, "otel_logs", LOGS_TABLE.column_names) if d["Body"] == "inserted"
    ]
    assert logs[0]["TraceId"] == trace_id
    assert logs[0]["SpanId"] == by_name["load.insert"]["SpanId"]
    beats = docs(writer, "heartbeats", HEARTBEATS_TABLE.column_names)
    assert beats[0]["service"] == "load"
    assert beats[0]["instance"] == "i1"
    metrics = {row[3] for row in writer.rows("pipeline_metrics")}
    assert "tickwatch_build_info" in metrics
    assert writer.closed


def test_disabled_telemetry_serves_metrics_only() -> None:
    writer = MemoryRowWriter()
    tel = Telemetry.start(
        "ingest", settings(enabled=False), "http://unused", metrics_port=0, writer=writer
    )
    try:
        with tel.tracer.start_as_current_span("ingest.flush") as span:
            logger.info("not exported")
        assert not span.is_recording()
        assert httpx.get(f"{tel.url}/healthz").status_code == 200
    finally:
        tel.close(timeout=10)
    assert writer.tables == {}
    heartbeat = tel.registry.get_sample_value(
        "tickwatch_heartbeat_timestamp_seconds", {"service": "ingest"}
    )
    assert heartbeat is not None and heartbeat > 0


def test_set_health_reaches_the_endpoint_and_the_heartbeat() -> None:
    writer = MemoryRowWriter()
    tel = Telemetry.start("monitor", settings(), "http://unused", metrics_port=0, writer=writer)
    try:
        tel.set_health(lambda: False)
        assert httpx.get(f"{tel.url}/healthz").status_code == 503
    finally:
        tel.close(timeout=10)
    statuses = {row[6] for row in writer.rows("heartbeats")}
    assert statuses <= {"ok", "unhealthy"}
    tel.close(timeout=10)  # a second close is a no-op


def test_traces_can_be_turned_off_alone() -> None:
    writer = MemoryRowWriter()
    tel = Telemetry.start(
        "load", settings(traces_enabled=False), "http://unused", metrics_port=0, writer=writer
    )
    try:
        with tel.tracer.start_as_current_span("load.poll"):
            logger.warning("still logged")
    finally:
        tel.close(timeout=10)
    assert writer.rows("otel_traces") == []
    assert [r[7] for r in writer.rows("otel_logs")] == ["still logged"]


def test_facades_are_built_once_on_the_registry_with_the_symbol_limit() -> None:
    tel = Telemetry.start(
        "ingest",
        settings(per_symbol_labels_max=1),
        "http://unused",
        metrics_port=0,
        writer=MemoryRowWriter(),
    )
    try:
        assert tel.ingest_metrics is tel.ingest_metrics
        tel.ingest_metrics.symbol_record("AAPL", 1.0)
        tel.ingest_metrics.symbol_record("MSFT", 1.0)
        tel.load_metrics.rows_inserted("bars", 2)
        tel.monitor_metrics.outbox_pending(1)
        text = httpx.get(f"{tel.url}/metrics").text
    finally:
        tel.close(timeout=10)
    assert 'symbol="' not in text
    assert 'tickwatch_load_rows_inserted_total{table="bars"} 2.0' in text
    assert "tickwatch_alert_outbox_pending 1.0" in text


def test_background_threads_are_daemons_and_gone_after_close() -> None:
    tel = Telemetry.start(
        "load", settings(), "http://unused", metrics_port=0, writer=MemoryRowWriter()
    )
    ours = [t for t in threading.enumerate() if t.name.startswith("telemetry-")]
    assert {t.name for t in ours} == {"telemetry-export", "telemetry-http"}
    assert all(t.daemon for t in ours)
    tel.close(timeout=10)
    assert not any(t.is_alive() for t in ours)
