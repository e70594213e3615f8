"""The compose OpenTelemetry Collector and Grafana Alloy configs (offline, and on ClickHouse).

- ``otel-collector/config.yaml``: OTLP in, the contrib clickhouse exporter out, into the
  migrated ``ops.otel_traces`` / ``ops.otel_logs`` (``create_schema: false``). The exporter's
  INSERT column lists (exporter/clickhouseexporter v0.165.0 ``internal/sqltemplates/
  traces_insert.sql`` and ``logs_insert.sql``) are written down here; the migrated tables on the
  real ClickHouse must hold every one of them, and tickwatch's own rows use the same columns.
- the workers reach it with nothing but the standard ``OTEL_*`` variables.
- ``loki/alloy.alloy`` (Promtail's successor): the labels and JSON parsing Promtail had and the
  Loki queries of the dashboards rely on. No Alloy binary runs here: the file is read for its
  components and their wiring.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from clickhouse_connect.driver.client import Client

from tickwatch.settings import ClickHouseSettings, load_settings
from tickwatch.telemetry.logging import LOGS_TABLE
from tickwatch.telemetry.otlp import resolve
from tickwatch.telemetry.tracing import TRACES_TABLE

from .grafana_model import REPO, iter_queries, load_dashboards
from .test_compose import SERVICES, VARIABLE, WORKERS, _env_example, _environment

COLLECTOR_CONFIG = REPO / "otel-collector" / "config.yaml"
ALLOY_CONFIG = REPO / "loki" / "alloy.alloy"
COLLECTOR: dict[str, Any] = yaml.safe_load(COLLECTOR_CONFIG.read_text(encoding="utf-8"))
ALLOY = ALLOY_CONFIG.read_text(encoding="utf-8")

EXPORTER_TRACE_COLUMNS = (
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
    "ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes",
    "Duration", "StatusCode", "StatusMessage", "Events.Timestamp", "Events.Name",
    "Events.Attributes", "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
)  # fmt: skip
EXPORTER_LOG_COLUMNS = (
    "Timestamp", "TraceId", "SpanId", "TraceFlags", "SeverityText", "SeverityNumber",
    "ServiceName", "Body", "ResourceSchemaUrl", "ResourceAttributes", "ScopeSchemaUrl",
    "ScopeName", "ScopeVersion", "ScopeAttributes", "LogAttributes",
)  # fmt: skip


# ------------------------------------------------------------------ the collector


def test_collector_receives_otlp_and_writes_clickhouse_in_the_exporters_schema() -> None:
    otlp = COLLECTOR["receivers"]["otlp"]["protocols"]
    assert otlp["grpc"]["endpoint"].endswith(":4317")
    assert otlp["http"]["endpoint"].endswith(":4318")
    exporter = COLLECTOR["exporters"]["clickhouse"]
    assert exporter["database"] == ClickHouseSettings().ops_database
    assert exporter["create_schema"] is False  # the migrations own the DDL
    assert exporter["traces_table_name"] == TRACES_TABLE.name
    assert exporter["logs_table_name"] == LOGS_TABLE.name
    assert exporter["endpoint"].startswith("tcp://clickhouse:9000")
    pipelines = COLLECTOR["service"]["pipelines"]
    assert set(pipelines) == {"traces", "logs"}
    for pipeline in pipelines.values():
        assert pipeline["receivers"] == ["otlp"]
        assert pipeline["exporters"] == ["clickhouse"]
        assert set(pipeline["processors"]) <= set(COLLECTOR["processors"])
    assert set(COLLECTOR["service"]["extensions"]) <= set(COLLECTOR["extensions"])


def test_collector_credentials_come_from_its_environment() -> None:
    text = COLLECTOR_CONFIG.read_text(encoding="utf-8")
    wanted = set(re.findall(r"\$\{env:(\w+)\}", text))
    env = _environment(SERVICES["otel-collector"])
    assert wanted == {"CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"}
    assert wanted <= set(env)
    assert all(VARIABLE.fullmatch(env[name]) for name in wanted)


def test_collector_is_pinned_mounted_and_starts_after_the_migrations() -> None:
    service = SERVICES["otel-collector"]
    assert service["image"].startswith("otel/opentelemetry-collector-contrib:0.165.")
    assert "./otel-collector/config.yaml:/etc/otelcol-contrib/config.yaml:ro" in service["volumes"]
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_tickwatchs_own_rows_use_the_exporters_columns() -> None:
    """Either path (worker -> ClickHouse, or collector -> ClickHouse) fills the same columns."""
    assert TRACES_TABLE.column_names == list(EXPORTER_TRACE_COLUMNS)
    assert LOGS_TABLE.column_names == list(EXPORTER_LOG_COLUMNS)


@pytest.mark.clickhouse
def test_the_migrated_tables_take_the_exporters_inserts(
    ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    for table, columns in (
        (TRACES_TABLE.name, EXPORTER_TRACE_COLUMNS),
        (LOGS_TABLE.name, EXPORTER_LOG_COLUMNS),
    ):
        described = ch_client.query(f"DESCRIBE TABLE {ch_settings.ops_database}.{table}")
        have = {row[0] for row in described.result_rows}
        missing = set(columns) - have
        assert not missing, f"{table} lacks the exporter's columns {sorted(missing)}"


@pytest.mark.clickhouse
def test_the_compose_collector_config_writes_spans_and_logs_into_clickhouse(
    ch_client: Client, ch_settings: ClickHouseSettings, tmp_path: Path
) -> None:
    """``otel-collector/config.yaml`` itself, run by a collector built with ocb from the compose
    image's components (same version), aimed at the harness ClickHouse: a worker's OTLP spans
    and logs land in the migrated tables, written by the contrib exporter in its schema."""
    from tests.deploy.pipeline_run import free_port, wait_for
    from tests.tickwatch.telemetry.otelcol import (
        COMPOSE_MANIFEST,
        ensure_collector,
        start_collector,
    )

    config: dict[str, Any] = yaml.safe_load(COLLECTOR_CONFIG.read_text(encoding="utf-8"))
    exporter = config["exporters"]["clickhouse"]
    exporter["endpoint"] = ch_settings.url  # the harness serves HTTP; compose uses native TCP
    exporter["database"] = ch_settings.ops_database
    config["extensions"]["health_check"]["endpoint"] = f"127.0.0.1:{free_port()}"
    credentials = {
        "CLICKHOUSE_USER": ch_settings.username,
        "CLICKHOUSE_PASSWORD": ch_settings.password.get_secret_value(),
    }
    binary = ensure_collector(manifest_path=COMPOSE_MANIFEST)
    collector = start_collector(binary, tmp_path / "otelcol", config, credentials)
    try:
        trace_id = _emit_through(collector.http_endpoint, "compose-collector")
        ops = ch_settings.ops_database

        def rows(sql: str) -> list[Any]:
            return list(ch_client.query(sql, parameters={"t": trace_id}).result_rows)

        spans_sql = (
            f"SELECT SpanName, ServiceName FROM {ops}.otel_traces WHERE TraceId = {{t:String}}"
        )
        logs_sql = (
            f"SELECT SeverityText, SeverityNumber, Body FROM {ops}.otel_logs "
            "WHERE TraceId = {t:String}"
        )
        arrived = wait_for(lambda: bool(rows(spans_sql)) and bool(rows(logs_sql)), timeout_s=60)
        assert arrived, (tmp_path / "otelcol" / "otelcol.log").read_text()[-3000:]
    finally:
        collector.stop()
    assert rows(spans_sql) == [("load.insert", "load")]
    assert rows(logs_sql) == [("WARN", 13, "compose-collector inside the span")]


def _emit_through(endpoint: str, marker: str) -> str:
    """One span with a warning inside, sent over OTLP/HTTP only; returns the trace id."""
    from loguru import logger
    from opentelemetry import trace

    from tickwatch.settings import OtelSettings, Settings, TelemetrySettings
    from tickwatch.telemetry import Telemetry
    from tickwatch.telemetry.writer import MemoryRowWriter

    settings = Settings(
        _env_file=None,
        telemetry=TelemetrySettings(clickhouse_traces=False, clickhouse_logs=False),
        otel=OtelSettings(exporter_otlp_endpoint=endpoint),
    )
    tel = Telemetry.start(
        "load", settings, "http://unused", metrics_port=0, writer=MemoryRowWriter()
    )
    try:
        with trace.get_tracer("pipeline.load").start_as_current_span("load.insert") as span:
            logger.warning("{} inside the span", marker)
    finally:
        tel.close(timeout=10)
    return format(span.get_span_context().trace_id, "032x")


@pytest.mark.parametrize("name", sorted(WORKERS))
def test_workers_send_spans_and_logs_through_the_collector_only(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The worker's container environment (``.env.example`` filled in) resolves to the collector."""
    example = _env_example()
    for variable in list(os.environ):
        if variable.startswith(("TICKWATCH_", "OTEL_")):
            monkeypatch.delenv(variable)
    monkeypatch.chdir(tmp_path)
    env = _environment(SERVICES[name])
    for key, value in env.items():
        monkeypatch.setenv(key, VARIABLE.sub(lambda m: example[m.group(1)], value))
    settings = load_settings()
    traces, logs = resolve(settings.otel, "traces"), resolve(settings.otel, "logs")
    assert traces is not None and traces.endpoint == "http://otel-collector:4318/v1/traces"
    assert logs is not None and logs.endpoint == "http://otel-collector:4318/v1/logs"
    assert not settings.telemetry.clickhouse_traces and not settings.telemetry.clickhouse_logs
    assert SERVICES[name]["depends_on"]["otel-collector"]["condition"] == "service_healthy"


# ------------------------------------------------------------------ Alloy


def _blocks(kind: str) -> dict[str, str]:
    """``kind "label" { body }`` blocks of the Alloy file, by label (bodies nest braces)."""
    found: dict[str, str] = {}
    for match in re.finditer(rf'^{re.escape(kind)} "(\w+)" \{{', ALLOY, re.MULTILINE):
        depth, index = 0, match.end() - 1
        for index in range(match.end() - 1, len(ALLOY)):
            depth += (ALLOY[index] == "{") - (ALLOY[index] == "}")
            if depth == 0:
                break
        found[match.group(1)] = ALLOY[match.end() : index]
    return found


def _map_keys(body: str, stage: str) -> set[str]:
    block = re.search(rf"{re.escape(stage)} \{{(.*?)\n    \}}", body, re.DOTALL)
    assert block is not None, f"no {stage}"
    return set(re.findall(r"(\w+)\s*=\s*\"", block.group(1)))


def test_alloy_discovers_the_compose_containers_through_the_docker_socket() -> None:
    docker = _blocks("discovery.docker")["compose"]
    assert 'host             = "unix:///var/run/docker.sock"' in docker
    assert '"com.docker.compose.project=tickwatch"' in docker
    source = _blocks("loki.source.docker")["compose"]
    assert "targets          = discovery.relabel.compose.output" in source
    assert "forward_to       = [loki.process.tickwatch.receiver]" in source


def test_alloy_sets_the_labels_promtail_set() -> None:
    relabel = _blocks("discovery.relabel")
    labels = {
        label
        for body in relabel.values()
        for label in re.findall(r'target_label\s*=\s*"(\w+)"', body)
    }
    assert labels == {"service", "project", "container", "stream"}
    assert "__meta_docker_container_label_com_docker_compose_service" in relabel["compose"]
    assert "__meta_docker_container_log_stream" in relabel["stream"]


def test_alloy_parses_the_workers_json_lines_like_promtail_did() -> None:
    process = _blocks("loki.process")["tickwatch"]
    assert 'selector = "{service=~\\"ingest|load|monitor|migrate\\"}"' in process
    assert _map_keys(process, "stage.json") == {"level", "trace_id", "span_id", "time"}
    assert re.search(r"stage\.labels \{\s*values = \{ level = \"\" \}", process)
    assert re.search(
        r'stage\.structured_metadata \{\s*values = \{ trace_id = "", span_id = "" \}', process
    )
    assert 'format            = "RFC3339Nano"' in process
    assert "forward_to = [loki.write.loki.receiver]" in process
    write = _blocks("loki.write")["loki"]
    assert 'url        = "http://loki:3100/loki/api/v1/push"' in write


def test_the_dashboards_loki_queries_use_only_labels_alloy_sets() -> None:
    alloy_labels = {"service", "project", "container", "stream", "level"}
    used: set[str] = set()
    for name, dashboard in load_dashboards().items():
        for query in iter_queries(name, dashboard):
            if query.datasource_type == "loki":
                for selector in re.findall(r"\{([^}]*)\}", query.text):
                    used |= set(re.findall(r"(\w+)\s*(?:=~|!=|!~|=)", selector))
    assert used and used <= alloy_labels, sorted(used - alloy_labels)


def test_alloy_service_mounts_its_config_and_the_socket_read_only() -> None:
    service = SERVICES["alloy"]
    assert re.fullmatch(r"grafana/alloy:v\d+\.\d+\.\d+", service["image"])
    assert "./loki/alloy.alloy:/etc/alloy/config.alloy:ro" in service["volumes"]
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in service["volumes"]
    assert service["command"][-1] == "/etc/alloy/config.alloy"
    assert "--server.http.listen-addr=127.0.0.1:12345" in service["command"]
    assert "12345" in " ".join(service["healthcheck"]["test"])
