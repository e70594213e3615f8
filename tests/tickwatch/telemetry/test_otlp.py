"""Standard OpenTelemetry configuration (``OTEL_*``) and OTLP export of spans and logs.

The resolution rules are unit tests on :class:`OtelSettings`; delivery runs against a REAL
OpenTelemetry Collector built with ocb (``tests/telemetry/otelcol.py``: OTLP receiver + debug
exporter), over OTLP/HTTP and OTLP/gRPC, in process and from a real ``tickwatch ingest`` worker
whose only OpenTelemetry setting is ``OTEL_EXPORTER_OTLP_ENDPOINT``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from tickwatch.settings import (
    ClickHouseSettings,
    ConfigError,
    KafkaSettings,
    OtelSettings,
    Settings,
    TelemetrySettings,
    load_settings,
)
from tickwatch.telemetry import Telemetry
from tickwatch.telemetry.otlp import resolve
from tickwatch.telemetry.tracing import build_sampler, resource_attributes
from tickwatch.telemetry.writer import MemoryRowWriter

from .otelcol import Collector, ensure_collector, start_collector

# ------------------------------------------------------------------ resolution (unit)


def test_no_endpoint_means_no_otlp() -> None:
    assert resolve(OtelSettings(), "traces") is None
    assert resolve(OtelSettings(), "logs") is None


def test_general_endpoint_gets_the_signal_path_over_http() -> None:
    otel = OtelSettings(exporter_otlp_endpoint="http://collector:4318/")
    traces, logs = resolve(otel, "traces"), resolve(otel, "logs")
    assert traces is not None and traces.endpoint == "http://collector:4318/v1/traces"
    assert logs is not None and logs.endpoint == "http://collector:4318/v1/logs"
    assert traces.protocol == "http/protobuf" and traces.timeout_s == 10.0


def test_per_signal_endpoint_is_used_as_it_is_and_wins() -> None:
    otel = OtelSettings(
        exporter_otlp_endpoint="http://a:4318",
        exporter_otlp_traces_endpoint="https://b/custom/path",
    )
    traces = resolve(otel, "traces")
    assert traces is not None and traces.endpoint == "https://b/custom/path"
    logs = resolve(otel, "logs")
    assert logs is not None and logs.endpoint == "http://a:4318/v1/logs"


def test_only_a_logs_endpoint_exports_only_logs() -> None:
    otel = OtelSettings(exporter_otlp_logs_endpoint="http://a:4318/v1/logs")
    assert resolve(otel, "traces") is None
    assert resolve(otel, "logs") is not None


def test_grpc_uses_the_endpoint_as_it_is_and_per_signal_options_win() -> None:
    otel = OtelSettings(
        exporter_otlp_endpoint="http://a:4317",
        exporter_otlp_protocol="grpc",
        exporter_otlp_logs_protocol="http/protobuf",
        exporter_otlp_timeout=2000,
        exporter_otlp_traces_timeout=500,
        exporter_otlp_compression="gzip",
        exporter_otlp_logs_compression="none",
    )
    traces, logs = resolve(otel, "traces"), resolve(otel, "logs")
    assert traces is not None and logs is not None
    assert (traces.endpoint, traces.protocol, traces.timeout_s, traces.gzip) == (
        "http://a:4317",
        "grpc",
        0.5,
        True,
    )
    assert (logs.endpoint, logs.protocol, logs.timeout_s, logs.gzip) == (
        "http://a:4317/v1/logs",
        "http/protobuf",
        2.0,
        False,
    )


def test_exporter_otlp_without_endpoint_uses_the_protocol_default() -> None:
    otel = OtelSettings(traces_exporter="otlp", exporter_otlp_protocol="grpc")
    traces = resolve(otel, "traces")
    assert traces is not None and traces.endpoint == "http://localhost:4317"


def test_exporter_none_and_sdk_disabled_turn_otlp_off() -> None:
    endpoint = {"exporter_otlp_endpoint": "http://a:4318"}
    assert resolve(OtelSettings(traces_exporter="none", **endpoint), "traces") is None
    assert resolve(OtelSettings(traces_exporter="none", **endpoint), "logs") is not None
    assert resolve(OtelSettings(sdk_disabled=True, **endpoint), "logs") is None


def test_headers_are_percent_decoded_and_per_signal_headers_win() -> None:
    otel = OtelSettings(
        exporter_otlp_endpoint="http://a:4318",
        exporter_otlp_headers="Authorization=Bearer%20abc, x-tenant=t1",
        exporter_otlp_logs_headers="x-tenant=logs",
    )
    traces, logs = resolve(otel, "traces"), resolve(otel, "logs")
    assert traces is not None and traces.headers == {
        "authorization": "Bearer abc",
        "x-tenant": "t1",
    }
    assert logs is not None and logs.headers == {"x-tenant": "logs"}


def test_service_name_wins_over_resource_attributes_which_win_over_defaults() -> None:
    defaults = {"service.name": "load", "service.version": "0.1.0"}
    otel = OtelSettings(
        resource_attributes="service.name=ignored,deployment.environment=prod%2Deu",
        service_name="tickwatch-load",
    )
    assert resource_attributes(defaults, otel) == {
        "service.name": "tickwatch-load",
        "service.version": "0.1.0",
        "deployment.environment": "prod-eu",
    }
    assert resource_attributes(defaults, OtelSettings()) == defaults


def test_the_standard_sampler_wins_over_tickwatchs_ratio() -> None:
    tel = TelemetrySettings(trace_sample_ratio=0.25)
    own = build_sampler(tel, OtelSettings())
    assert isinstance(own, ParentBased) and "0.25" in own.get_description()  # type: ignore[no-untyped-call]
    ratio = OtelSettings(traces_sampler="traceidratio", traces_sampler_arg=0.5)
    standard = build_sampler(tel, ratio)
    assert isinstance(standard, TraceIdRatioBased) and standard.rate == 0.5
    assert build_sampler(tel, OtelSettings(traces_sampler="always_off")).get_description() == (
        "AlwaysOffSampler"
    )


def test_load_settings_reads_the_standard_variables(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "tw")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "")  # empty = not set (specification)
    otel = load_settings().otel
    assert otel.service_name == "tw"
    assert otel.exporter_otlp_endpoint == "http://127.0.0.1:4318"
    assert otel.exporter_otlp_traces_protocol == "grpc"
    assert otel.traces_sampler_arg is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
        ("OTEL_TRACES_SAMPLER_ARG", "half"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "-1"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "novalue"),
        ("OTEL_RESOURCE_ATTRIBUTES", "a=1,b"),
    ],
)
def test_a_bad_standard_variable_stops_start_up_naming_it(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_the_standard_variables_come_from_dot_env_too(isolated_env: Path) -> None:
    (isolated_env / ".env").write_text("OTEL_SERVICE_NAME=from-dotenv\n", encoding="utf-8")
    assert load_settings().otel.service_name == "from-dotenv"


# ------------------------------------------------------------------ a real collector


@pytest.fixture(scope="session")
def otel_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    """The ocb-built collector (built once, cached in the state dir), running on loopback."""
    collector = start_collector(ensure_collector(), tmp_path_factory.mktemp("otelcol"))
    try:
        yield collector
    finally:
        collector.stop()


def _otlp_settings(**otel: Any) -> Settings:
    return Settings(
        _env_file=None,
        telemetry=TelemetrySettings(clickhouse_traces=False, clickhouse_logs=False),
        otel=OtelSettings(**otel),
    )


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_spans_and_logs_reach_a_real_collector(otel_collector: Collector, protocol: str) -> None:
    endpoint = otel_collector.grpc_endpoint if protocol == "grpc" else otel_collector.http_endpoint
    settings = _otlp_settings(
        exporter_otlp_endpoint=endpoint,
        exporter_otlp_protocol=protocol,
        resource_attributes="deployment.environment=test",
    )
    marker = f"otlp-{protocol}"
    writer = MemoryRowWriter()
    tel = Telemetry.start("load", settings, "http://unused", metrics_port=0, writer=writer)
    try:
        with trace.get_tracer("pipeline.load").start_as_current_span(
            "load.insert", attributes={"marker": marker, "rows": 3}
        ) as span:
            logger.warning("{} inside the span", marker)
        trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        tel.close(timeout=10)

    def arrived() -> bool:
        spans = [s for s in otel_collector.spans() if s.attributes.get("marker") == marker]
        return bool(spans) and any(marker in log.body for log in otel_collector.logs())

    assert otel_collector.wait(arrived), otel_collector.text()[-3000:]
    sent = next(s for s in otel_collector.spans() if s.attributes.get("marker") == marker)
    assert (sent.name, sent.trace_id, sent.attributes["rows"]) == ("load.insert", trace_id, "3")
    assert sent.resource["service.name"] == "load"
    assert sent.resource["deployment.environment"] == "test"
    record = next(log for log in otel_collector.logs() if marker in log.body)
    assert (record.severity_text, record.severity_number) == ("WARN", 13)
    assert record.trace_id == trace_id
    assert not writer.rows("otel_traces") and not writer.rows("otel_logs")  # collector only


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_a_worker_with_only_the_otlp_endpoint_set_delivers_spans_and_logs(
    otel_collector: Collector,
    kafka_settings: KafkaSettings,
    ch_settings: ClickHouseSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``tickwatch ingest`` as a process; of the OTEL_* variables only the endpoint is set."""
    from tests.deploy.pipeline_run import free_port, start_worker

    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otel_collector.http_endpoint,
        "TICKWATCH_KAFKA_BOOTSTRAP": kafka_settings.bootstrap,
        "TICKWATCH_KAFKA_TOPIC_TRADES": kafka_settings.topic_trades,
        "TICKWATCH_KAFKA_TOPIC_QUOTES": kafka_settings.topic_quotes,
        "TICKWATCH_KAFKA_TOPIC_BARS": kafka_settings.topic_bars,
        "TICKWATCH_KAFKA_TOPIC_CORRECTIONS": kafka_settings.topic_corrections,
        "TICKWATCH_KAFKA_TOPIC_DLQ": kafka_settings.topic_dlq,
        "TICKWATCH_CLICKHOUSE_URL": ch_settings.url,
        "TICKWATCH_CLICKHOUSE_OPS_DATABASE": ch_settings.ops_database,
        "TICKWATCH_TELEMETRY_METRICS_HOST": "127.0.0.1",
        "TICKWATCH_INGEST_METRICS_PORT": str(free_port()),
        "TICKWATCH_INGEST_SOURCE": "simulator",
        "TICKWATCH_INGEST_SYMBOLS": "3",
        "TICKWATCH_INGEST_RATE": "100",
        "TICKWATCH_INGEST_DURATION_S": "3",
    }
    worker = start_worker("ingest", env, tmp_path / "ingest")
    try:
        worker.process.wait(90)
    finally:
        code = worker.stop()
    assert code == 0, worker.output_tail()

    def arrived() -> bool:
        spans = [s for s in otel_collector.spans() if s.resource.get("service.name") == "ingest"]
        logs = [r for r in otel_collector.logs() if r.resource.get("service.name") == "ingest"]
        return any(s.name.startswith("ingest.") for s in spans) and bool(logs)

    assert otel_collector.wait(arrived), otel_collector.text()[-3000:]


def test_an_unreachable_collector_is_counted_as_dropped_and_never_blocks() -> None:
    """Nothing listens on the endpoint: the SDK retries within its timeout, then the batch is
    counted in ``tickwatch_telemetry_dropped_total{signal}``; the span's thread never waits."""
    from tests.deploy.pipeline_run import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    settings = _otlp_settings(exporter_otlp_endpoint=endpoint, exporter_otlp_timeout=300)
    tel = Telemetry.start(
        "load", settings, "http://unused", metrics_port=0, writer=MemoryRowWriter()
    )
    try:
        with trace.get_tracer("pipeline.load").start_as_current_span("load.insert"):
            logger.info("nobody receives this")
    finally:
        tel.close(timeout=20)

    def dropped(signal: str) -> float:
        value = tel.registry.get_sample_value(
            "tickwatch_telemetry_dropped_total", {"signal": signal}
        )
        return value or 0.0

    assert dropped("traces") >= 1
    assert dropped("logs") >= 1


def test_the_default_sampler_is_parent_based_every_trace_and_the_variables_change_it(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings()
    default = build_sampler(settings.telemetry, settings.otel)
    assert isinstance(default, ParentBased)
    assert "TraceIdRatioBased{1.0}" in default.get_description()  # type: ignore[no-untyped-call]
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.1")
    settings = load_settings()  # read once at the entry point; the library gets the settings
    tenth = build_sampler(settings.telemetry, settings.otel)
    assert isinstance(tenth, ParentBased)
    assert "TraceIdRatioBased{0.1}" in tenth.get_description()  # type: ignore[no-untyped-call]
