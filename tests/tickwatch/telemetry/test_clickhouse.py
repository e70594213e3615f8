"""Telemetry written into the real ClickHouse started by the harness."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client as ClickHouseClient
from loguru import logger
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from prometheus_client import CollectorRegistry

from tickwatch.clients import clickhouse_client
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings, Settings, TelemetrySettings
from tickwatch.telemetry import Telemetry
from tickwatch.telemetry.catalog import ServiceMetrics, TelemetryMetrics
from tickwatch.telemetry.export import Exporter, ExporterConfig
from tickwatch.telemetry.heartbeats import HEARTBEATS_TABLE, Heartbeat
from tickwatch.telemetry.writer import ClickHouseRowWriter


def start(ch: ClickHouseSettings, url: str, **telemetry: Any) -> Telemetry:
    settings = Settings(_env_file=None, clickhouse=ch, telemetry=TelemetrySettings(**telemetry))
    return Telemetry.start("load", settings, url, metrics_port=0, instance="test-1")


def query(client: ClickHouseClient, sql: str, **params: Any) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=params)
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def hex_ids(span: Any) -> tuple[str, str]:
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


@pytest.mark.clickhouse
def test_spans_and_logs_land_linked_with_exact_durations(
    ch_settings: ClickHouseSettings, clickhouse_url: str, ch_client: ClickHouseClient
) -> None:
    tel = start(ch_settings, clickhouse_url)
    tracer = trace.get_tracer("pipeline.load.worker")
    try:
        with tel.tracer.start_as_current_span("load.poll") as poll:
            poll.set_attribute("partition", 1)
            with tracer.start_as_current_span("load.insert") as insert:
                insert.set_attributes({"rows": 3, "first_offset": 10, "last_offset": 12})
                logger.bind(table="trades").info("batch inserted")
        logger.warning("outside any span")
    finally:
        tel.close(timeout=30)
    ops = ch_settings.ops_database
    rows = query(
        ch_client,
        f"SELECT SpanName, TraceId, SpanId, ParentSpanId, SpanKind, StatusCode, ServiceName,"
        f" SpanAttributes, Duration, toUnixTimestamp64Nano(Timestamp) AS start_ns"
        f" FROM {ops}.otel_traces ORDER BY SpanName",
    )
    by_name = {r["SpanName"]: r for r in rows}
    assert set(by_name) == {"load.insert", "load.poll"}
    trace_id, poll_id = hex_ids(poll)
    _, insert_id = hex_ids(insert)
    assert by_name["load.poll"]["TraceId"] == by_name["load.insert"]["TraceId"] == trace_id
    assert by_name["load.poll"]["SpanId"] == poll_id
    assert by_name["load.poll"]["ParentSpanId"] == ""
    assert by_name["load.insert"]["ParentSpanId"] == poll_id
    assert by_name["load.insert"]["SpanAttributes"]["last_offset"] == "12"
    assert by_name["load.poll"]["SpanKind"] == "Internal"
    assert by_name["load.poll"]["StatusCode"] == "Unset"
    assert by_name["load.poll"]["ServiceName"] == "load"
    for span, row in ((poll, by_name["load.poll"]), (insert, by_name["load.insert"])):
        assert isinstance(span, ReadableSpan)
        assert row["start_ns"] == span.start_time
        assert row["Duration"] == (span.end_time or 0) - (span.start_time or 0)
    index = query(ch_client, f"SELECT TraceId FROM {ops}.otel_traces_trace_id_ts")
    assert {r["TraceId"] for r in index} == {trace_id}
    logs = query(
        ch_client,
        f"SELECT Body, TraceId, SpanId, SeverityText, LogAttributes FROM {ops}.otel_logs"
        f" WHERE ServiceName = 'load' ORDER BY Timestamp",
    )
    by_body = {r["Body"]: r for r in logs}
    assert by_body["batch inserted"]["TraceId"] == trace_id
    assert by_body["batch inserted"]["SpanId"] == insert_id
    assert by_body["batch inserted"]["LogAttributes"]["table"] == "trades"
    assert by_body["outside any span"]["TraceId"] == ""
    assert by_body["outside any span"]["SeverityText"] == "WARN"


@pytest.mark.clickhouse
def test_snapshots_and_heartbeats_land(
    ch_settings: ClickHouseSettings, clickhouse_url: str, ch_client: ClickHouseClient
) -> None:
    tel = start(ch_settings, clickhouse_url)
    tel.close(timeout=30)
    ops = ch_settings.ops_database
    beats = query(
        ch_client,
        f"SELECT service, instance, max(time) AS last, any(status) AS status, any(pid) AS pid"
        f" FROM {ops}.heartbeats GROUP BY service, instance",
    )
    assert [(b["service"], b["instance"], b["status"]) for b in beats] == [("load", "test-1", "ok")]
    assert beats[0]["pid"] > 0
    samples = query(
        ch_client,
        f"SELECT metric, labels, value FROM {ops}.pipeline_metrics"
        f" WHERE service = 'load' AND instance = 'test-1'",
    )
    metrics = {s["metric"]: s for s in samples}
    assert metrics["tickwatch_build_info"]["labels"]["service"] == "load"
    assert metrics["tickwatch_build_info"]["value"] == 1.0
    assert metrics["process_resident_memory_bytes"]["value"] > 0
    exported = tel.registry.get_sample_value(
        "tickwatch_telemetry_exported_total", {"signal": "heartbeats"}
    )
    assert exported is not None and exported >= 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_clickhouse_never_crashes_and_counts_drops() -> None:
    ch = ClickHouseSettings(connect_timeout_s=1.0)
    tel = start(ch, f"http://127.0.0.1:{closed_port()}")
    try:
        for i in range(20):
            with tel.tracer.start_as_current_span("ingest.flush"):
                logger.info("flushed {}", i)
        assert tel.flush() is False
    finally:
        tel.close(timeout=30)
    get = tel.registry.get_sample_value
    for signal in ("traces", "logs", "metrics", "heartbeats"):
        assert get("tickwatch_telemetry_exported_total", {"signal": signal}) == 0
    assert get("tickwatch_telemetry_dropped_total", {"signal": "traces"}) == 20
    assert (get("tickwatch_telemetry_dropped_total", {"signal": "logs"}) or 0) >= 20
    assert (get("tickwatch_telemetry_dropped_total", {"signal": "heartbeats"}) or 0) >= 1


@pytest.mark.clickhouse
def test_backlog_is_written_once_clickhouse_comes_back(
    ch_settings: ClickHouseSettings, clickhouse_url: str, ch_client: ClickHouseClient
) -> None:
    urls = [f"http://127.0.0.1:{closed_port()}"]
    writer = ClickHouseRowWriter(
        lambda: clickhouse_client(ch_settings, urls[-1]), ch_settings.ops_database
    )
    registry = CollectorRegistry()
    config = ExporterConfig(retry_initial_s=5.0, flush_interval_s=5.0)
    exporter = Exporter(writer, TelemetryMetrics(registry), config, clock=ManualClock())
    channel = exporter.channel("heartbeats", HEARTBEATS_TABLE, lambda r: r, 100)
    now = ManualClock(time.time())  # recent: the table's TTL would delete old rows on merge
    beat = Heartbeat(ServiceMetrics(registry, "ingest"), channel, "ingest", "i", clock=now)
    for _ in range(3):
        beat()
        now.advance(5)
    exporter.run_once(now=0.0)  # ClickHouse "down": the batch stays queued
    assert len(channel) == 3
    urls.append(clickhouse_url)  # ClickHouse "back"
    exporter.run_once(now=2.0)  # still backing off
    assert len(channel) == 3
    exporter.run_once(now=5.0)
    assert len(channel) == 0
    exporter.close(timeout=10)
    ops = ch_settings.ops_database
    rows = query(ch_client, f"SELECT count() AS n FROM {ops}.heartbeats WHERE service = 'ingest'")
    assert rows == [{"n": 3}]
    get = registry.get_sample_value
    assert get("tickwatch_telemetry_exported_total", {"signal": "heartbeats"}) == 3
    assert get("tickwatch_telemetry_dropped_total", {"signal": "heartbeats"}) == 0
