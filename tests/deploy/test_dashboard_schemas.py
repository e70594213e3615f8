"""Every dashboard validates against the Grafana 12 JSON schemas, and every datasource exists.

The schemas live in ``<repo>/../shared/grafana-jsonschema`` (draft-07, from grafana-foundation-
sdk): ``dashboard.jsonschema.json`` for the dashboard, ``<panel type>.jsonschema.json`` whose
``Options`` / ``FieldConfig`` definitions describe a panel's ``options`` and
``fieldConfig.defaults.custom``, and ``prometheus`` / ``loki`` for those datasources' queries.
$refs are resolved through a ``referencing`` registry holding every schema file.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from .grafana_model import (
    BUILTIN_DATASOURCE_UIDS,
    CLICKHOUSE_TYPE,
    SCHEMA_DIR,
    Json,
    dashboard_files,
    datasource_refs,
    iter_panels,
    iter_queries,
    load_dashboards,
    provisioned_datasources,
)

DASHBOARDS = load_dashboards()
EXPECTED_UIDS = {"tickwatch-market", "tickwatch-pipeline", "tickwatch-alerts", "tickwatch-traces"}
GRAFANA_12_SCHEMA_VERSION = 41
QUERY_SCHEMAS = {"prometheus": "prometheus", "loki": "loki"}


def _uri(stem: str) -> str:
    return f"urn:grafana-jsonschema:{stem}"


@cache
def _registry() -> Registry[Any]:
    if not SCHEMA_DIR.is_dir():
        pytest.fail(
            f"Grafana JSON schemas not found at {SCHEMA_DIR}: the dashboard tests need the "
            "shared/ folder beside the repository (shared/grafana-jsonschema/*.jsonschema.json).",
            pytrace=False,
        )
    resources: list[tuple[str, Resource[Any]]] = []
    for path in sorted(SCHEMA_DIR.glob("*.jsonschema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        stem = path.name.removesuffix(".jsonschema.json")
        resources.append((_uri(stem), DRAFT7.create_resource(contents)))
    if not resources:
        pytest.fail(f"{SCHEMA_DIR} holds no *.jsonschema.json files", pytrace=False)
    return Registry().with_resources(resources)


def _schema_exists(stem: str) -> bool:
    return (SCHEMA_DIR / f"{stem}.jsonschema.json").is_file()


def _errors(instance: object, ref: str) -> list[str]:
    validator = Draft7Validator({"$ref": ref}, registry=_registry())
    found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [_describe(e) for e in found]


def _describe(error: ValidationError) -> str:
    """Where and what; for oneOf/anyOf, the most relevant reason instead of the whole value."""
    if error.context:
        error = best_match(error.context) or error
    path = "/".join(map(str, error.absolute_path)) or "<root>"
    return f"{path}: {error.message[:300]}"


def _panel_schema_stem(panel_type: str) -> str:
    return panel_type.replace("-", "")


def test_the_four_dashboards_exist_with_stable_uids() -> None:
    assert len(dashboard_files()) == 4
    assert {d["uid"] for d in DASHBOARDS.values()} == EXPECTED_UIDS


def test_schema_folder_is_where_the_tests_look() -> None:
    _registry()  # fails with the folder named when it is missing
    assert _schema_exists("dashboard")


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_validates_against_the_dashboard_schema(name: str) -> None:
    errors = _errors(DASHBOARDS[name], _uri("dashboard"))
    assert not errors, f"{name}.json:\n  " + "\n  ".join(errors)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_targets_grafana_12(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert dashboard["schemaVersion"] >= GRAFANA_12_SCHEMA_VERSION
    assert dashboard["uid"].startswith("tickwatch-")
    assert 8 <= len(dashboard["uid"]) <= 40


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_each_panel_validates_against_its_panel_type_schema(name: str) -> None:
    problems: list[str] = []
    for panel in iter_panels(DASHBOARDS[name]):
        if panel["type"] == "row":
            continue
        stem = _panel_schema_stem(panel["type"])
        where = f"panel {panel.get('title')!r} ({panel['type']})"
        if not _schema_exists(stem):
            problems.append(f"{where}: no {stem}.jsonschema.json to check it against")
            continue
        problems += [
            f"{where} options/{e}"
            for e in _errors(panel.get("options", {}), f"{_uri(stem)}#/definitions/Options")
        ]
        custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
        if custom is not None:
            schema = json.loads((SCHEMA_DIR / f"{stem}.jsonschema.json").read_text())
            if "FieldConfig" not in schema["definitions"]:
                problems.append(f"{where}: fieldConfig.defaults.custom, but no FieldConfig schema")
            else:
                problems += [
                    f"{where} fieldConfig.defaults.custom/{e}"
                    for e in _errors(custom, f"{_uri(stem)}#/definitions/FieldConfig")
                ]
    assert not problems, f"{name}.json:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_each_query_validates_against_its_datasource_schema(name: str) -> None:
    problems: list[str] = []
    for query in iter_queries(name, DASHBOARDS[name]):
        if query.where.startswith("variable"):
            continue
        kind = query.datasource_type
        if kind in QUERY_SCHEMAS:
            problems += [f"{query}: {e}" for e in _errors(query.target, _uri(QUERY_SCHEMAS[kind]))]
        elif kind == CLICKHOUSE_TYPE:
            missing = {"refId", "rawSql", "editorType", "format", "queryType"} - set(query.target)
            if missing:
                problems.append(f"{query}: ClickHouse query without {sorted(missing)}")
        else:
            problems.append(f"{query}: unexpected datasource type {kind!r}")
    assert not problems, "\n  ".join(problems)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_datasource_uid_is_provisioned(name: str) -> None:
    provisioned = {(d["type"], d["uid"]) for d in provisioned_datasources()}
    used = {(ref.get("type", ""), ref.get("uid", "")) for ref in datasource_refs(DASHBOARDS[name])}
    unknown = {
        ref for ref in used if ref[1] not in BUILTIN_DATASOURCE_UIDS and ref not in provisioned
    }
    assert not unknown, f"{name}.json uses datasources not in provisioning: {sorted(unknown)}"


def test_provisioned_datasources_have_the_contract_uids() -> None:
    by_uid: dict[str, Json] = {d["uid"]: d for d in provisioned_datasources()}
    assert by_uid["clickhouse"]["type"] == CLICKHOUSE_TYPE
    assert by_uid["prometheus"]["type"] == "prometheus"
    assert by_uid["loki"]["type"] == "loki"
    links = by_uid["loki"]["jsonData"]["derivedFields"]
    assert any(link.get("datasourceUid") == "clickhouse" for link in links)
    for link in links:
        assert "trace_id" in link["matcherRegex"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panel_ids_are_unique_and_panels_fit_the_grid(name: str) -> None:
    panels = list(iter_panels(DASHBOARDS[name]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel.get("title")


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


def test_the_schemas_reject_broken_panels() -> None:
    """The validation has teeth: wrong options and unknown panel keys are reported."""
    assert _errors({"mode": "sideways"}, f"{_uri('candlestick')}#/definitions/Options")
    broken = {"type": "timeseries", "title": "x", "gridPos": {"h": 1, "w": 30, "x": 0, "y": 0}}
    dashboard = {"schemaVersion": 42, "templating": {"list": []}, "annotations": {"list": []}}
    assert _errors({**dashboard, "panels": [broken]}, _uri("dashboard"))
    assert _errors({"lineWidth": "thick"}, f"{_uri('timeseries')}#/definitions/FieldConfig")
