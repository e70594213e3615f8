"""Every dashboard meets what Grafana 12 and the ClickHouse plugin 4.20 accept.

The contract is ``grafana_contract``.

Needs nothing outside the repository. The contract's teeth are shown on broken copies of the
real dashboards: each kind of breach is reported with where it is and what is wrong.
"""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from .grafana_contract import (
    CH_BACKEND_MACROS,
    CH_FORMAT_OF_QUERY_TYPE,
    GRAFANA_GLOBALS,
    clickhouse_target_problems,
    dashboard_problems,
)
from .grafana_macros import _PLAIN_MACROS, MACROS
from .grafana_model import CLICKHOUSE_TYPE, Json, iter_panels, iter_queries, load_dashboards
from .grafana_model import provisioned_datasources as _provisioned

DASHBOARDS = load_dashboards()
EXPECTED_UIDS = {"tickwatch-market", "tickwatch-pipeline", "tickwatch-alerts", "tickwatch-traces"}


def _pairs() -> set[tuple[str, str]]:
    return {(d["type"], d["uid"]) for d in _provisioned()}


def _first_clickhouse_target(dashboard: Json) -> Json:
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("datasource", {}).get("type") == CLICKHOUSE_TYPE:
                return target  # type: ignore[no-any-return]
    raise AssertionError("no ClickHouse target")


def test_the_four_dashboards_exist_with_stable_uids() -> None:
    assert {d["uid"] for d in DASHBOARDS.values()} == EXPECTED_UIDS


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_meets_the_grafana_and_clickhouse_plugin_contract(name: str) -> None:
    problems = dashboard_problems(name, DASHBOARDS[name], _pairs())
    assert not problems, f"{name}.json:\n  " + "\n  ".join(problems)


def _broken(mutate: str) -> list[str]:
    dashboard = copy.deepcopy(DASHBOARDS["pipeline-health"])
    panels = [p for p in iter_panels(dashboard) if p["type"] != "row"]
    target = _first_clickhouse_target(dashboard)
    if mutate == "panel type":
        panels[0]["type"] = "graph"  # removed from Grafana long ago (now timeseries)
    elif mutate == "grid":
        panels[0]["gridPos"] = {"h": 4, "w": 20, "x": 10, "y": 0}
    elif mutate == "datasource uid":
        panels[0]["datasource"] = {"type": "prometheus", "uid": "prom-typo"}
    elif mutate == "query instead of rawSql":
        target["query"] = target.pop("rawSql")
    elif mutate == "editorType":
        target["editorType"] = "code"
    elif mutate == "format":
        target["format"] = 2 if target["queryType"] != "logs" else 0
    elif mutate == "queryType":
        target["queryType"] = "graph"
    elif mutate == "macro":
        target["rawSql"] += " AND $__timeFilterr(Timestamp)"
    elif mutate == "schemaVersion":
        dashboard["schemaVersion"] = 36
    return dashboard_problems("pipeline-health", dashboard, _pairs())


@pytest.mark.parametrize(
    ("mutate", "reported"),
    [
        ("panel type", "panel type 'graph' is not a Grafana 12 panel"),
        ("grid", "leaves the 24-column grid"),
        ("datasource uid", "uid: 'prom-typo'} is not provisioned"),
        ("query instead of rawSql", "unknown field 'query'"),
        ("editorType", "editorType 'code'"),
        ("format", "for queryType"),
        ("queryType", "queryType 'graph'"),
        ("macro", "unknown macro $__timeFilterr"),
        ("schemaVersion", "schemaVersion 36"),
    ],
)
def test_the_contract_rejects_a_broken_dashboard(mutate: str, reported: str) -> None:
    problems = _broken(mutate)
    assert any(reported in p for p in problems), problems


def test_a_link_query_without_rawsql_is_rejected() -> None:
    """What Grafana sends for a derived field with ``datasourceUid``: the plugin runs nothing."""
    problems = clickhouse_target_problems({"refId": "A", "query": "SELECT 1"})
    assert any("editorType" in p for p in problems)


def test_the_macros_the_tests_expand_are_the_plugins() -> None:
    """``grafana_macros`` expands exactly names the plugin (or Grafana) knows."""
    implemented = {name.removeprefix("__") for name in [*MACROS, *_PLAIN_MACROS]}
    assert implemented <= CH_BACKEND_MACROS | GRAFANA_GLOBALS


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_clickhouse_targets_pin_the_plugin_version(name: str) -> None:
    versions = {
        q.target.get("pluginVersion")
        for q in iter_queries(name, DASHBOARDS[name])
        if q.datasource_type == CLICKHOUSE_TYPE and not q.where.startswith("variable")
    }
    assert len(versions) == 1 and all(re.fullmatch(r"4\.20\.\d+", str(v)) for v in versions)


def test_provisioned_datasources_have_the_contract_uids() -> None:
    by_uid: dict[str, Json] = {d["uid"]: d for d in _provisioned()}
    assert by_uid["clickhouse"]["type"] == CLICKHOUSE_TYPE
    assert by_uid["prometheus"]["type"] == "prometheus"
    assert by_uid["loki"]["type"] == "loki"
    for link in by_uid["loki"]["jsonData"]["derivedFields"]:
        assert "trace_id" in link["matcherRegex"]


def loki_trace_link() -> Json:
    """The Loki derived field that opens a log line's spans from ClickHouse in Explore.

    As Grafana reads it: provisioning expands ``$$`` to ``$`` (its environment expansion).
    """
    loki = next(d for d in _provisioned() if d["uid"] == "loki")
    links = loki["jsonData"]["derivedFields"]
    link: Json = next(f for f in links if f["urlDisplayLabel"] == "Trace spans (ClickHouse)")
    return {k: v.replace("$$", "$") if isinstance(v, str) else v for k, v in link.items()}


def explore_query(url: str) -> tuple[Json, Json]:
    """(pane, first query) of a Grafana 12 Explore URL (``schemaVersion=1&panes=<json>``)."""
    parts = urlsplit(url)
    assert parts.path == "/explore", url
    params = parse_qs(parts.query)
    assert params["schemaVersion"] == ["1"]
    panes: Json = json.loads(params["panes"][0])
    pane: Json = next(iter(panes.values()))
    return pane, pane["queries"][0]


def test_the_trace_spans_link_opens_explore_with_a_query_the_plugin_runs() -> None:
    """The link is an Explore URL carrying the whole ClickHouse query, meeting the contract.

    Grafana turns a derived field *with* datasourceUid into ``{query: url}``
    (getDerivedFields.ts), which the plugin ignores (it reads rawSql).
    """
    link = loki_trace_link()
    assert "datasourceUid" not in link
    pane, query = explore_query(link["url"])
    assert pane["datasource"] == "clickhouse"
    assert query["datasource"] == {"type": CLICKHOUSE_TYPE, "uid": "clickhouse"}
    assert "TraceId = '${__value.raw}'" in query["rawSql"]
    # ${__value.raw} is the data-link variable Grafana fills with the matched trace id.
    filled = {**query, "rawSql": query["rawSql"].replace("${__value.raw}", "0" * 32)}
    assert clickhouse_target_problems(filled) == []
    assert query["format"] == CH_FORMAT_OF_QUERY_TYPE[query["queryType"]]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panel_ids_are_unique_and_panels_fit_the_grid(name: str) -> None:
    panels = list(iter_panels(DASHBOARDS[name]))
    assert len({p["id"] for p in panels}) == len(panels)


def test_market_dashboard_has_the_symbol_variable_and_a_candlestick() -> None:
    market = DASHBOARDS["market"]
    variables = {v["name"]: v for v in market["templating"]["list"]}
    assert "SELECT DISTINCT symbol FROM market.trades" in variables["symbol"]["query"]
    assert any(p["type"] == "candlestick" for p in iter_panels(market))


def test_traces_dashboard_has_a_level_filter_for_loki() -> None:
    traces = DASHBOARDS["traces-logs"]
    assert "level" in {v["name"] for v in traces["templating"]["list"]}
    loki_exprs = [
        q.text for q in iter_queries("traces-logs", traces) if q.datasource_type == "loki"
    ]
    assert loki_exprs
    assert all("level=~" in expr for expr in loki_exprs)
