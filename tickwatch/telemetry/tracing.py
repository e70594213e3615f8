"""OpenTelemetry tracing into ClickHouse ``{ops}.otel_traces`` (the Collector exporter's layout).

Workers use the standard API only::

    tracer = trace.get_tracer(__name__)
    with tracer.start_as_current_span("load.insert", attributes={"rows": n}):
        ...

:func:`build_tracer_provider` makes the SDK provider (service resource, sampler
``ParentBased(TraceIdRatioBased(telemetry.trace_sample_ratio))`` unless the standard
``OTEL_TRACES_SAMPLER`` says otherwise) and
:class:`ChannelSpanProcessor` hands every ended, sampled span to a bounded exporter channel
instead of the SDK's BatchSpanProcessor, whose drops cannot be counted. The span becomes a row
on the exporter thread: ids as lower-case hex, ``SpanKind`` "Internal"/"Server"/...,
``StatusCode`` "Unset"/"Ok"/"Error", ``Duration`` in ns, ``Timestamp`` as DateTime64(9) ns.

OpenTelemetry allows one global provider per process; :func:`install_global` sets a switchable
one once and points it at the newest provider, so a worker (or a test) can start telemetry again
after closing it and ``trace.get_tracer`` keeps working.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from tickwatch.settings import OtelSettings, TelemetrySettings
from tickwatch.telemetry.export import Channel, Row, TableSpec
from tickwatch.telemetry.otlp import parse_pairs

if TYPE_CHECKING:  # the API's own return type for start_as_current_span
    from opentelemetry.util._decorator import _AgnosticContextManager

_MAP = "Map(LowCardinality(String), String)"
TRACES_TABLE = TableSpec(
    "otel_traces",
    (
        ("Timestamp", "DateTime64(9)"), ("TraceId", "String"), ("SpanId", "String"),
        ("ParentSpanId", "String"), ("TraceState", "String"),
        ("SpanName", "LowCardinality(String)"), ("SpanKind", "LowCardinality(String)"),
        ("ServiceName", "LowCardinality(String)"), ("ResourceAttributes", _MAP),
        ("ScopeName", "String"), ("ScopeVersion", "String"), ("SpanAttributes", _MAP),
        ("Duration", "UInt64"), ("StatusCode", "LowCardinality(String)"),
        ("StatusMessage", "String"), ("Events.Timestamp", "Array(DateTime64(9))"),
        ("Events.Name", "Array(LowCardinality(String))"), ("Events.Attributes", f"Array({_MAP})"),
        ("Links.TraceId", "Array(String)"), ("Links.SpanId", "Array(String)"),
        ("Links.TraceState", "Array(String)"), ("Links.Attributes", f"Array({_MAP})"),
    ),
)  # fmt: skip

SPAN_KINDS = {
    SpanKind.INTERNAL: "Internal",
    SpanKind.SERVER: "Server",
    SpanKind.CLIENT: "Client",
    SpanKind.PRODUCER: "Producer",
    SpanKind.CONSUMER: "Consumer",
}
STATUS_CODES = {StatusCode.UNSET: "Unset", StatusCode.OK: "Ok", StatusCode.ERROR: "Error"}


def trace_id_hex(trace_id: int) -> str:
    """32 lower-case hex digits, or "" for the invalid id 0 (the exporter's convention)."""
    return format(trace_id, "032x") if trace_id else ""


def span_id_hex(span_id: int) -> str:
    """16 lower-case hex digits, or "" for the invalid id 0."""
    return format(span_id, "016x") if span_id else ""


def attribute_map(attributes: Mapping[str, Any] | None) -> dict[str, str]:
    """OTel attributes as the exporter stores them: strings, bools as true/false, lists as JSON."""
    return {key: _attribute_str(value) for key, value in (attributes or {}).items()}


def _attribute_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(list(value), default=str)


def span_row(span: ReadableSpan) -> Row:
    """One ``otel_traces`` row for an ended span."""
    ctx = span.get_span_context()
    if ctx is None:
        raise ValueError(f"span {span.name!r} has no context")
    resource = attribute_map(span.resource.attributes)
    scope = span.instrumentation_scope
    start, end = span.start_time or 0, span.end_time or 0
    links = list(span.links)
    return (
        start, trace_id_hex(ctx.trace_id), span_id_hex(ctx.span_id),
        span_id_hex(span.parent.span_id) if span.parent else "",
        _trace_state(ctx),
        span.name, SPAN_KINDS.get(span.kind, "Unspecified"), resource.get("service.name", ""),
        resource, scope.name if scope else "", (scope.version or "") if scope else "",
        attribute_map(span.attributes), max(0, end - start),
        STATUS_CODES[span.status.status_code], span.status.description or "",
        [e.timestamp for e in span.events], [e.name for e in span.events],
        [attribute_map(e.attributes) for e in span.events],
        [trace_id_hex(link.context.trace_id) for link in links],
        [span_id_hex(link.context.span_id) for link in links],
        [_trace_state(link.context) for link in links],
        [attribute_map(link.attributes) for link in links],
    )  # fmt: skip


def _trace_state(ctx: trace.SpanContext) -> str:
    return ctx.trace_state.to_header() if ctx.trace_state else ""


class ChannelSpanProcessor(SpanProcessor):
    """Offers each ended, sampled span to a bounded channel; never blocks the ending thread."""

    def __init__(self, channel: Channel[ReadableSpan]) -> None:
        self._channel = channel

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        """Nothing to do when a span starts."""

    def on_end(self, span: ReadableSpan) -> None:
        """Queue ``span``; when the channel is full the span is dropped and counted."""
        ctx = span.get_span_context()
        if ctx is not None and ctx.trace_flags.sampled:
            self._channel.offer(span)

    def shutdown(self) -> None:
        """The exporter owns the channel and flushes it on its own close."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Spans are already queued; the exporter writes them on its next round."""
        return True


def resource_attributes(defaults: Mapping[str, str], otel: OtelSettings) -> dict[str, str]:
    """tickwatch's resource attributes, then ``OTEL_RESOURCE_ATTRIBUTES``, then the service name.

    As the specification says, ``OTEL_SERVICE_NAME`` sets ``service.name`` and wins over a
    ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``; both win over tickwatch's defaults (the
    worker name, instance id and version), since an operator who sets them means them.
    """
    attributes = dict(defaults)
    attributes.update(parse_pairs(otel.resource_attributes, "OTEL_RESOURCE_ATTRIBUTES"))
    if otel.service_name:
        attributes["service.name"] = otel.service_name
    return attributes


def build_sampler(settings: TelemetrySettings, otel: OtelSettings) -> Sampler:
    """``OTEL_TRACES_SAMPLER`` (+ ``_ARG``, default 1.0) when set, else tickwatch's own:
    ``parentbased_traceidratio`` with ``telemetry.trace_sample_ratio``."""
    ratio = 1.0 if otel.traces_sampler_arg is None else otel.traces_sampler_arg
    samplers: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(ratio)),
    }
    if otel.traces_sampler:
        return samplers[otel.traces_sampler]
    return ParentBased(TraceIdRatioBased(settings.trace_sample_ratio))


def build_tracer_provider(
    attributes: Mapping[str, str], settings: TelemetrySettings, otel: OtelSettings | None = None
) -> TracerProvider:
    """An SDK provider for one service: resource ``attributes`` exactly (no environment
    detectors: the ``OTEL_*`` values arrive through ``otel``) and :func:`build_sampler`'s sampler.
    """
    otel = otel or OtelSettings()
    return TracerProvider(
        sampler=build_sampler(settings, otel), resource=Resource(dict(attributes))
    )


class WorkSpan:
    """What a step reports while it runs under :func:`work_span`: attributes, and whether it did
    any work (read records, wrote rows...)."""

    def __init__(self) -> None:
        self.attributes: dict[str, AttributeValue] = {}
        self.did_work = False

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Put ``key`` on the span, if one is recorded."""
        self.attributes[key] = value

    def worked(self) -> None:
        """Say that the step did work: its span is recorded."""
        self.did_work = True


@contextmanager
def work_span(
    tracer: trace.Tracer, name: str, now_ns: Callable[[], int] = time.time_ns
) -> Iterator[WorkSpan]:
    """Record span ``name`` around a step only if the step did work or raised.

    A worker's loop polls and reads far more often than it finds something when the feed is
    quiet; a span per empty round would be most of its telemetry. The span is started when the
    step ends, with the step's start time (``now_ns``, the SDK's own clock by default) and
    attributes, under the context current at that point, so it nests and samples like one opened
    around the step. During the step it is not the current span: use it for leaf steps only.
    An ``Exception`` is recorded on the span (status Error) and re-raised; a cancellation is not
    work and records nothing.
    """
    step = WorkSpan()
    start = now_ns()
    try:
        yield step
    except Exception as exc:
        _record(tracer, name, (start, now_ns()), step, exc)
        raise
    if step.did_work:
        _record(tracer, name, (start, now_ns()), step, None)


def _record(
    tracer: trace.Tracer,
    name: str,
    times_ns: tuple[int, int],
    step: WorkSpan,
    error: Exception | None,
) -> None:
    start_ns, end_ns = times_ns
    span = tracer.start_span(name, start_time=start_ns, attributes=step.attributes)
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
    span.end(end_time=end_ns)


class _SwitchableTracerProvider(trace.TracerProvider):
    """The process-global provider; forwards to whichever SDK provider is current."""

    def __init__(self) -> None:
        self.current: trace.TracerProvider = trace.NoOpTracerProvider()
        self.lock = threading.Lock()

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _SwitchableTracer(self, args, kwargs)


class _SwitchableTracer(trace.Tracer):
    def __init__(
        self, switch: _SwitchableTracerProvider, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self._switch = switch
        self._args = args
        self._kwargs = kwargs
        self._cached: tuple[trace.TracerProvider, trace.Tracer] | None = None

    def _target(self) -> trace.Tracer:
        provider = self._switch.current
        cached = self._cached
        if cached is None or cached[0] is not provider:
            cached = (provider, provider.get_tracer(*self._args, **self._kwargs))
            self._cached = cached
        return cached[1]

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._target().start_span(*args, **kwargs)

    def start_as_current_span(
        self, *args: Any, **kwargs: Any
    ) -> _AgnosticContextManager[trace.Span]:
        return self._target().start_as_current_span(*args, **kwargs)


_GLOBAL = _SwitchableTracerProvider()


def install_global(provider: trace.TracerProvider | None) -> None:
    """Make ``provider`` what ``trace.get_tracer`` uses from now on (None = no-op tracing)."""
    with _GLOBAL.lock:
        if trace.get_tracer_provider() is not _GLOBAL:
            trace.set_tracer_provider(_GLOBAL)
        _GLOBAL.current = provider or trace.NoOpTracerProvider()


def release_global(provider: trace.TracerProvider) -> None:
    """Stop routing ``trace.get_tracer`` to ``provider`` if it is still the current one."""
    with _GLOBAL.lock:
        if _GLOBAL.current is provider:
            _GLOBAL.current = trace.NoOpTracerProvider()
