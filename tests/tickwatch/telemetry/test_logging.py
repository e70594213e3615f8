"""loguru JSON lines, stdlib interception, and otel_logs rows carrying trace ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from tickwatch.settings import TelemetrySettings
from tickwatch.telemetry.catalog import TelemetryMetrics
from tickwatch.telemetry.export import INTERNAL, Channel, Row
from tickwatch.telemetry.logging import LOGS_TABLE, ClickHouseLogSink, configure_logging
from tickwatch.telemetry.tracing import span_id_hex, trace_id_hex


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put the stdlib root logger back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    logger.remove()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def stdout() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("load", TelemetrySettings(log_level="DEBUG"), sink=stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_service_level_message_and_extras(stdout: io.StringIO) -> None:
    logger.bind(partition=3).info("batch inserted rows={}", 10)
    (line,) = lines(stdout)
    assert line["service"] == "load"
    assert line["level"] == "INFO"
    assert line["message"] == "batch inserted rows=10"
    assert line["partition"] == 3
    assert line["trace_id"] == line["span_id"] == ""
    assert line["time"].endswith("+00:00")


def test_records_inside_a_span_carry_its_ids(stdout: io.StringIO) -> None:
    provider = TracerProvider()
    with provider.get_tracer("t").start_as_current_span("load.insert") as span:
        logger.warning("slow insert")
    ctx = span.get_span_context()
    (line,) = lines(stdout)
    assert line["trace_id"] == trace_id_hex(ctx.trace_id)
    assert line["span_id"] == span_id_hex(ctx.span_id)


def test_stdlib_logging_is_routed_into_loguru(stdout: io.StringIO) -> None:
    logging.getLogger("kafka.client").warning("broker %s down", "b1")
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("x").exception("failed")
    first, second = lines(stdout)
    assert (first["level"], first["message"], first["logger"]) == (
        "WARNING", "broker b1 down", "kafka.client",
    )  # fmt: skip
    assert "ValueError: bad" in second["exception"]


def test_level_filters_stdout() -> None:
    stream = io.StringIO()
    configure_logging("ingest", TelemetrySettings(log_level="WARNING"), sink=stream)
    try:
        logger.info("hidden")
        logger.error("shown")
    finally:
        logger.remove()
    assert [line["message"] for line in lines(stream)] == ["shown"]


def make_sink(capacity: int = 100) -> tuple[ClickHouseLogSink, Channel[Row], CollectorRegistry]:
    registry = CollectorRegistry()
    channel: Channel[Row] = Channel(
        "logs", LOGS_TABLE, lambda r: r, capacity, TelemetryMetrics(registry)
    )
    return ClickHouseLogSink(channel, "load", {"service.name": "load"}), channel, registry


def test_clickhouse_sink_rows_follow_the_logs_layout_with_trace_ids() -> None:
    sink, channel, _ = make_sink()
    handler = logger.add(sink, level="INFO", filter=sink.accepts, format="{message}")
    provider = TracerProvider()
    try:
        logger.debug("not exported")
        with provider.get_tracer("t").start_as_current_span("load.commit") as span:
            logger.bind(partition=1).warning("commit retried")
        logger.bind(**INTERNAL).warning("exporter talking about itself")
        logger.bind(logger="clickhouse_connect.driver").warning("client noise")
    finally:
        logger.remove(handler)
    (row,) = channel.take(10)
    doc = dict(zip(LOGS_TABLE.column_names, row, strict=True))
    ctx = span.get_span_context()
    assert doc["TraceId"] == trace_id_hex(ctx.trace_id)
    assert doc["SpanId"] == span_id_hex(ctx.span_id)
    assert doc["TraceFlags"] & 1 == 1  # sampled
    assert (doc["SeverityText"], doc["SeverityNumber"]) == ("WARN", 13)
    assert (doc["ServiceName"], doc["Body"]) == ("load", "commit retried")
    assert doc["LogAttributes"]["partition"] == "1"
    assert doc["ResourceAttributes"] == {"service.name": "load"}
    assert doc["Timestamp"] > 1_600_000_000 * 10**9


def test_clickhouse_sink_drops_and_counts_when_full() -> None:
    sink, channel, registry = make_sink(capacity=2)
    handler = logger.add(sink, level="INFO", format="{message}")
    try:
        for i in range(5):
            logger.info("line {}", i)
    finally:
        logger.remove(handler)
    assert len(channel) == 2
    labels = {"signal": "logs"}
    assert registry.get_sample_value("tickwatch_telemetry_dropped_total", labels) == 3
