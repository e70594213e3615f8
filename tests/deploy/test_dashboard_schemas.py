"""Where the upstream Grafana 12 JSON schemas are given, every dashboard validates against them.

An extra to the project's own contract (``test_dashboard_contract.py``, which needs nothing else).
The schemas (draft-07, from grafana-foundation-sdk) are read only from the folder named by
``$TICKWATCH_GRAFANA_SCHEMAS`` (CI's ``.ci/run`` sets it when it has them); without it every test
here skips and says why. ``dashboard.jsonschema.json`` describes the dashboard,
``<panel type>.jsonschema.json`` a panel's ``options`` / ``fieldConfig.defaults.custom``, and
``prometheus`` / ``loki`` those datasources' queries. $refs are resolved through a
``referencing`` registry holding every schema file.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from .grafana_model import (
    CLICKHOUSE_TYPE,
    SCHEMAS_ENV,
    iter_panels,
    iter_queries,
    load_dashboards,
    upstream_schema_dir,
)

DASHBOARDS = load_dashboards()
QUERY_SCHEMAS = {"prometheus": "prometheus", "loki": "loki"}
SCHEMA_DIR = upstream_schema_dir()
_SKIP_REASON = (
    f"upstream Grafana JSON schemas not checked: ${SCHEMAS_ENV} is not set (point it at a "
    "folder of grafana-foundation-sdk *.jsonschema.json files; the project's own contract "
    "in test_dashboard_contract.py ran regardless)"
)
pytestmark = pytest.mark.skipif(SCHEMA_DIR is None, reason=_SKIP_REASON)


def _uri(stem: str) -> str:
    return f"urn:grafana-jsonschema:{stem}"


def _schema_dir() -> Path:
    if SCHEMA_DIR is None:
        pytest.skip(_SKIP_REASON)
    if not SCHEMA_DIR.is_dir():
        pytest.fail(f"${SCHEMAS_ENV}={SCHEMA_DIR} is not a folder", pytrace=False)
    return SCHEMA_DIR


@cache
def _registry() -> Registry[Any]:
    resources: list[tuple[str, Resource[Any]]] = []
    for path in sorted(_schema_dir().glob("*.jsonschema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        stem = path.name.removesuffix(".jsonschema.json")
        resources.append((_uri(stem), DRAFT7.create_resource(contents)))
    if not resources:
        pytest.fail(f"{_schema_dir()} holds no *.jsonschema.json files", pytrace=False)
    return Registry().with_resources(resources)


def _schema_exists(stem: str) -> bool:
    return (_schema_dir() / f"{stem}.jsonschema.json").is_file()


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


def test_schema_folder_holds_the_dashboard_schema() -> None:
    _registry()  # fails with the folder named when it is empty
    assert _schema_exists("dashboard")


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_validates_against_the_dashboard_schema(name: str) -> None:
    errors = _errors(DASHBOARDS[name], _uri("dashboard"))
    assert not errors, f"{name}.json:\n  " + "\n  ".join(errors)


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
            schema = json.loads((_schema_dir() / f"{stem}.jsonschema.json").read_text())
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


def test_the_schemas_reject_broken_panels() -> None:
    """The validation has teeth: wrong options and unknown panel keys are reported."""
    assert _errors({"mode": "sideways"}, f"{_uri('candlestick')}#/definitions/Options")
    broken = {"type": "timeseries", "title": "x", "gridPos": {"h": 1, "w": 30, "x": 0, "y": 0}}
    dashboard = {"schemaVersion": 42, "templating": {"list": []}, "annotations": {"list": []}}
    assert _errors({**dashboard, "panels": [broken]}, _uri("dashboard"))
    assert _errors({"lineWidth": "thick"}, f"{_uri('timeseries')}#/definitions/FieldConfig")
