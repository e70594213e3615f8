"""The log views' links and filters on real rows in the real ClickHouse.

Rows come from tickwatch's own telemetry path (loguru -> ClickHouse sink, spans -> exporter),
not hand-written: a record at every loguru level inside one span. Then, expanded as Grafana and
the ClickHouse plugin would:

- the traces-logs dashboard's ClickHouse log panel, filtered by loguru level names, finds the
  stored OpenTelemetry severities (WARNING -> WARN, CRITICAL -> FATAL, SUCCESS -> INFO) through
  the one mapping in ``tickwatch.telemetry.logging.SEVERITIES``;
- the Loki derived field "Trace spans (ClickHouse)" opens Explore with a query that returns that
  trace's spans.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from loguru import logger
from opentelemetry import trace

from tickwatch.settings import ClickHouseSettings, Settings, TelemetrySettings
from tickwatch.telemetry import Telemetry, configure_logging
from tickwatch.telemetry.logging import SEVERITIES, severity_text_sql

from .grafana_macros import QueryContext, VariableValue, clickhouse_sql
from .grafana_model import CLICKHOUSE_TYPE, iter_panels, load_dashboards
from .test_dashboard_contract import explore_query, loki_trace_link

pytestmark = pytest.mark.clickhouse

LEVELS = ("DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


def _logs_panel_sql() -> str:
    traces = load_dashboards()["traces-logs"]
    for panel in iter_panels(traces):
        for target in panel.get("targets", []):
            if target["datasource"]["type"] == CLICKHOUSE_TYPE and "otel_logs" in target["rawSql"]:
                return str(target["rawSql"])
    raise AssertionError("traces-logs has no ClickHouse log panel")


@pytest.fixture
def logged(ch_settings: ClickHouseSettings) -> Iterator[str]:
    """One record per loguru level inside one span, written by the real sinks; the trace id."""
    settings = Settings(
        _env_file=None,
        clickhouse=ch_settings,
        telemetry=TelemetrySettings(clickhouse_log_level="DEBUG", log_level="DEBUG"),
    )
    configure_logging("load", settings.telemetry)
    tel = Telemetry.start("load", settings, ch_settings.url, metrics_port=0)
    try:
        with trace.get_tracer("pipeline.load").start_as_current_span("load.insert") as span:
            for level in LEVELS:
                logger.log(level, "level check {}", level)
        trace_id = format(span.get_span_context().trace_id, "032x")
        assert tel.flush()
    finally:
        tel.close(timeout=10)
    yield trace_id


def _run(client: Client, sql: str, ch: ClickHouseSettings, **variables: VariableValue) -> Any:
    # the range ends a minute ahead: the rows were written this very second
    ctx = QueryContext.last(timedelta(hours=1), now=datetime.now(UTC) + timedelta(minutes=1))
    databases = {"market": ch.market_database, "ops": ch.ops_database}
    return client.query(clickhouse_sql(sql, variables, ctx, databases)).named_results()


def test_the_dashboard_embeds_the_one_severity_mapping() -> None:
    assert severity_text_sql("${level:singlequote}") in _logs_panel_sql()


@pytest.mark.parametrize(
    ("chosen", "stored"),
    [
        (["WARNING"], {"WARN"}),
        (["CRITICAL"], {"FATAL"}),
        (["WARNING", "CRITICAL"], {"WARN", "FATAL"}),
        (["SUCCESS"], {"INFO"}),
        (["ERROR"], {"ERROR"}),
        (list(SEVERITIES), {"DEBUG", "INFO", "WARN", "ERROR", "FATAL"}),
    ],
)
def test_the_level_filter_finds_rows_stored_under_otel_names(
    logged: str,
    ch_client: Client,
    ch_settings: ClickHouseSettings,
    chosen: list[str],
    stored: set[str],
) -> None:
    rows = list(_run(ch_client, _logs_panel_sql(), ch_settings, level=chosen, service=["load"]))
    ours = [r for r in rows if str(r["message"]).startswith("level check")]
    assert {r["level"] for r in ours} == stored
    expected = {f"level check {name}" for name in LEVELS if SEVERITIES[name][0] in stored}
    assert {r["message"] for r in ours} == expected
    assert {r["trace_id"] for r in ours} == {logged}


def test_the_trace_spans_link_returns_the_spans_of_the_logged_trace(
    logged: str, ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    _, query = explore_query(loki_trace_link()["url"])
    sql = query["rawSql"].replace("${__value.raw}", logged)
    spans = list(_run(ch_client, sql, ch_settings))
    assert [s["SpanName"] for s in spans] == ["load.insert"]
    assert spans[0]["ServiceName"] == "load"
