"""Spans become otel_traces rows; the sampler and the switchable global provider."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CollectorRegistry

from tickwatch.settings import TelemetrySettings
from tickwatch.telemetry.catalog import TelemetryMetrics
from tickwatch.telemetry.export import Channel
from tickwatch.telemetry.tracing import (
    TRACES_TABLE,
    ChannelSpanProcessor,
    build_tracer_provider,
    install_global,
    release_global,
    span_row,
    work_span,
)

COLUMNS = TRACES_TABLE.column_names


def as_dict(span: ReadableSpan) -> dict[str, Any]:
    return dict(zip(COLUMNS, span_row(span), strict=True))


@pytest.fixture
def pipeline() -> Iterator[tuple[TracerProvider, Channel[ReadableSpan], CollectorRegistry]]:
    registry = CollectorRegistry()
    channel: Channel[ReadableSpan] = Channel(
        "traces", TRACES_TABLE, span_row, 100, TelemetryMetrics(registry)
    )
    provider = build_tracer_provider({"service.name": "load"}, TelemetrySettings())
    provider.add_span_processor(ChannelSpanProcessor(channel))
    yield provider, channel, registry
    provider.shutdown()


def test_parent_and_child_spans_become_linked_rows(
    pipeline: tuple[TracerProvider, Channel[ReadableSpan], CollectorRegistry],
) -> None:
    provider, channel, _ = pipeline
    tracer = provider.get_tracer("tests.tracing", "1.0")
    with tracer.start_as_current_span("load.poll", kind=SpanKind.CONSUMER) as parent:
        parent.set_attribute("partition", 2)
        with tracer.start_as_current_span("load.insert") as child:
            child.set_attributes({"rows": 500, "first_offset": 10, "ok": True, "ids": [1, 2]})
            child.add_event("retry", {"attempt": 1})
            child.set_status(Status(StatusCode.ERROR, "ClickHouse timeout"))
    child_row, parent_row = (as_dict(s) for s in channel.take(10))
    assert child_row["TraceId"] == parent_row["TraceId"]
    assert len(parent_row["TraceId"]) == 32
    assert len(parent_row["SpanId"]) == 16
    assert child_row["ParentSpanId"] == parent_row["SpanId"]
    assert parent_row["ParentSpanId"] == ""
    assert parent_row["SpanKind"] == "Consumer"
    assert child_row["SpanKind"] == "Internal"
    assert parent_row["StatusCode"] == "Unset"
    assert (child_row["StatusCode"], child_row["StatusMessage"]) == ("Error", "ClickHouse timeout")
    assert child_row["SpanAttributes"] == {
        "rows": "500", "first_offset": "10", "ok": "true", "ids": "[1, 2]",
    }  # fmt: skip
    assert parent_row["ServiceName"] == "load"
    assert parent_row["ResourceAttributes"]["service.name"] == "load"
    assert (parent_row["ScopeName"], parent_row["ScopeVersion"]) == ("tests.tracing", "1.0")
    assert child_row["Events.Name"] == ["retry"]
    assert child_row["Events.Attributes"] == [{"attempt": "1"}]
    assert parent_row["Timestamp"] <= child_row["Timestamp"]
    parent_end = parent_row["Timestamp"] + parent_row["Duration"]
    assert child_row["Timestamp"] + child_row["Duration"] <= parent_end


def test_explicit_times_give_exact_nanosecond_durations(
    pipeline: tuple[TracerProvider, Channel[ReadableSpan], CollectorRegistry],
) -> None:
    provider, channel, _ = pipeline
    span = provider.get_tracer("t").start_span("ingest.flush", start_time=1_000_000_000_123)
    span.end(end_time=1_000_250_000_123)
    row = as_dict(channel.take(1)[0])
    assert row["Timestamp"] == 1_000_000_000_123
    assert row["Duration"] == 250_000_000


def test_ratio_zero_samples_nothing_but_children_follow_their_parent() -> None:
    registry = CollectorRegistry()
    channel: Channel[ReadableSpan] = Channel(
        "traces", TRACES_TABLE, span_row, 100, TelemetryMetrics(registry)
    )
    provider = build_tracer_provider({}, TelemetrySettings(trace_sample_ratio=0.0))
    provider.add_span_processor(ChannelSpanProcessor(channel))
    with provider.get_tracer("t").start_as_current_span("load.poll"):
        pass
    assert len(channel) == 0
    provider.shutdown()


def test_a_full_span_queue_drops_and_counts(
    pipeline: tuple[TracerProvider, Channel[ReadableSpan], CollectorRegistry],
) -> None:
    provider, channel, registry = pipeline
    tracer = provider.get_tracer("t")
    for _ in range(105):
        with tracer.start_as_current_span("load.decode"):
            pass
    assert len(channel) == 100
    labels = {"signal": "traces"}
    assert registry.get_sample_value("tickwatch_telemetry_dropped_total", labels) == 5


def test_the_global_tracer_follows_the_installed_provider(
    pipeline: tuple[TracerProvider, Channel[ReadableSpan], CollectorRegistry],
) -> None:
    provider, channel, _ = pipeline
    tracer = trace.get_tracer("worker.module")  # obtained before install, as module globals are
    install_global(provider)
    try:
        with tracer.start_as_current_span("ingest.source_read"):
            pass
    finally:
        release_global(provider)
    with tracer.start_as_current_span("after.release"):
        pass
    assert [s.name for s in channel.take(10)] == ["ingest.source_read"]


class _Nanos:
    """A nanosecond clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        return self.now


def test_a_work_span_is_recorded_only_when_the_step_did_work(
    pipeline: tuple[TracerProvider, Channel[ReadableSpan], CollectorRegistry],
) -> None:
    provider, channel, _ = pipeline
    tracer, clock = provider.get_tracer("t"), _Nanos()
    with work_span(tracer, "ingest.source_read", clock) as idle:
        idle.set_attribute("tickwatch.records", 0)
    assert len(channel) == 0
    with (
        tracer.start_as_current_span("ingest.run") as parent,
        work_span(tracer, "ingest.source_read", clock) as busy,
    ):
        clock.now += 250
        busy.set_attribute("tickwatch.records", 3)
        busy.worked()
    spans = {s.name: s for s in channel.take(10)}
    read = spans["ingest.source_read"]
    assert (read.start_time, read.end_time) == (1_000, 1_250)
    assert dict(read.attributes or {}) == {"tickwatch.records": 3}
    assert read.parent is not None
    assert read.parent.span_id == parent.get_span_context().span_id


def test_a_work_span_records_a_failure_but_not_a_cancellation(
    pipeline: tuple[TracerProvider, Channel[ReadableSpan], CollectorRegistry],
) -> None:
    provider, channel, _ = pipeline
    tracer = provider.get_tracer("t")
    with pytest.raises(asyncio.CancelledError), work_span(tracer, "ingest.source_read"):
        raise asyncio.CancelledError
    assert len(channel) == 0
    with pytest.raises(ConnectionError), work_span(tracer, "ingest.source_read"):
        raise ConnectionError("feed closed")
    [failed] = channel.take(10)
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "ConnectionError: feed closed"
    assert [e.name for e in failed.events] == ["exception"]
