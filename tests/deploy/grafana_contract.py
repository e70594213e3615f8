"""What Grafana 12 and the ClickHouse plugin 4.20 accept, written down from their sources.

The dashboards are provisioned into a Grafana we cannot run here, so this module is the
project's own statement of the contract they must meet; :func:`dashboard_problems` checks a
dashboard against it and returns one readable line per breach (an empty list means it passes).
The full upstream JSON schemas, when a path to them is given, are checked in addition by
``test_dashboard_schemas.py``; this module needs nothing outside the repository.

Sources (read at the pinned versions, not copied):
- grafana/grafana v12.2 ``public/app/features/plugins/built_in_plugins.ts`` (built-in panel
  plugin ids), ``public/app/plugins/datasource/prometheus/dataquery.cue`` and
  ``public/app/plugins/datasource/loki/dataquery.cue`` (query fields and enums), and
  ``public/app/plugins/datasource/loki/getDerivedFields.ts`` (a derived field with a
  ``datasourceUid`` becomes the internal query ``{"query": url}``).
- grafana/clickhouse-datasource v4.20.0 ``src/types/sql.ts`` (``CHQueryBase``: ``pluginVersion``,
  ``editorType``, ``rawSql``, ``format``; ``CHSqlQuery`` adds ``queryType``, ``meta``, ``expand``),
  ``src/types/queryBuilder.ts`` (``QueryType`` values), ``src/data/utils.ts``
  (``mapQueryTypeToGrafanaFormat``: timeseries 0, table 1, logs 2, traces 3),
  ``src/data/CHDatasource.ts`` (``applyTemplateVariables`` reads ``rawSql`` only; the frontend
  macros ``$__conditionalAll`` and ``$__adHocFilters``) and ``pkg/macros/macros.go``
  (``ClickHouseMacros``: the plugin's backend macros on top of the SDK's macropro defaults).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from .grafana_model import CLICKHOUSE_TYPE, Json, iter_panels, iter_queries

# built_in_plugins.ts (panels) plus "row", which the dashboard model itself defines.
PANEL_TYPES = frozenset(
    {
        "alertlist", "annolist", "barchart", "bargauge", "candlestick", "canvas", "dashlist",
        "debug", "flamegraph", "gauge", "geomap", "gettingstarted", "heatmap", "histogram",
        "live", "logs", "news", "nodeGraph", "piechart", "row", "stat", "state-timeline",
        "status-history", "table", "text", "timeseries", "traces", "trend", "welcome", "xychart",
    }
)  # fmt: skip
SCHEMA_VERSIONS = range(41, 43)  # what Grafana 12.x writes; the dashboards were saved at 42
GRID_COLUMNS = 24
BUILTIN_DATASOURCE_UIDS = frozenset({"-- Grafana --", "-- Mixed --", "-- Dashboard --"})
BUILTIN_DATASOURCE_TYPES = frozenset({"grafana", "datasource", "mixed", "dashboard"})

# clickhouse-datasource v4.20.0 src/types/sql.ts and src/types/queryBuilder.ts
CH_EDITOR_TYPES = frozenset({"sql", "builder"})
CH_FORMAT_OF_QUERY_TYPE = {"timeseries": 0, "table": 1, "logs": 2, "traces": 3}
_DATA_QUERY_FIELDS = frozenset({"refId", "hide", "key", "queryType", "datasource"})
CH_TARGET_FIELDS = _DATA_QUERY_FIELDS | {
    "pluginVersion", "editorType", "rawSql", "format", "meta", "expand", "builderOptions",
}  # fmt: skip
CH_REQUIRED_SQL_FIELDS = ("refId", "pluginVersion", "editorType", "rawSql", "format", "queryType")

# pkg/macros/macros.go ClickHouseMacros (backend, incl. macropro's defaults it merges), then the
# frontend's own in CHDatasource.ts.
CH_BACKEND_MACROS = frozenset(
    {
        "interval", "interval_ms", "timeFilter", "timeFrom", "timeTo", "timeGroup", "table",
        "column", "fromTime", "toTime", "fromTime_ms", "toTime_ms", "timeFilter_ms",
        "dateFilter", "dateTimeFilter", "dt", "timeInterval", "timeInterval_ms", "interval_s",
    }
)  # fmt: skip
CH_FRONTEND_MACROS = frozenset({"conditionalAll", "adHocFilters"})
# Grafana's global variables (docs "Global variables"; templateSrv), expanded before the plugin.
GRAFANA_GLOBALS = frozenset(
    {
        "interval", "interval_ms", "rate_interval", "rate_interval_ms", "range", "range_s",
        "range_ms", "from", "to", "timezone", "dashboard", "org", "user", "name", "auto",
        "all_variables", "url_time_range",
    }
)  # fmt: skip

# grafana v12.2 prometheus/dataquery.cue and loki/dataquery.cue (+ DataQuery's common fields)
EDITOR_MODES = frozenset({"code", "builder"})
PROMETHEUS_FIELDS = _DATA_QUERY_FIELDS | {
    "expr", "instant", "range", "exemplar", "editorMode", "format", "legendFormat",
    "intervalFactor", "interval", "scope", "adhocFilters", "groupByKeys",
}  # fmt: skip
PROMETHEUS_FORMATS = frozenset({"time_series", "table", "heatmap"})
LOKI_FIELDS = _DATA_QUERY_FIELDS | {
    "expr", "legendFormat", "maxLines", "resolution", "editorMode", "range", "instant", "step",
    "direction", "supportingQueryType",
}  # fmt: skip
LOKI_QUERY_TYPES = frozenset({"range", "instant", "stream"})

_MACRO = re.compile(r"\$\{?__(\w+?)(?=\W|$)")


def dashboard_problems(
    name: str, dashboard: Json, provisioned: Iterable[tuple[str, str]]
) -> list[str]:
    """Every breach of the contract in ``dashboard``; ``provisioned`` holds (type, uid) pairs."""
    known = set(provisioned)
    problems = list(_dashboard_level(dashboard))
    for panel in iter_panels(dashboard):
        problems += _panel_problems(panel)
    for ref in _datasource_refs(dashboard):
        problems += _datasource_problem(ref, known)
    for query in iter_queries(name, dashboard):
        kind = query.datasource_type
        target = query.target
        if query.where.startswith("variable"):
            found = _macro_problems(query.text) if kind == CLICKHOUSE_TYPE else []
        elif kind == CLICKHOUSE_TYPE:
            found = clickhouse_target_problems(target)
        elif kind == "prometheus":
            found = _fields_problems(target, PROMETHEUS_FIELDS, _prometheus_enums(target))
        elif kind == "loki":
            found = _fields_problems(target, LOKI_FIELDS, _loki_enums(target))
        else:
            found = [f"datasource type {kind!r} is not one tickwatch provisions"]
        problems += [f"{query}: {p}" for p in found]
    return problems


def _dashboard_level(dashboard: Json) -> Iterator[str]:
    if dashboard.get("schemaVersion") not in SCHEMA_VERSIONS:
        yield f"schemaVersion {dashboard.get('schemaVersion')!r} is not Grafana 12's (41-42)"
    uid = dashboard.get("uid")
    if not isinstance(uid, str) or not 1 <= len(uid) <= 40:
        yield f"uid {uid!r} must be a string of 1-40 characters"
    ids = [p.get("id") for p in iter_panels(dashboard)]
    if len(ids) != len(set(ids)):
        yield f"panel ids are not unique: {ids}"


def _panel_problems(panel: Json) -> list[str]:
    where = f"panel {panel.get('title', panel.get('id'))!r}"
    problems: list[str] = []
    if panel.get("type") not in PANEL_TYPES:
        problems.append(f"{where}: panel type {panel.get('type')!r} is not a Grafana 12 panel")
    pos = panel.get("gridPos", {})
    if not all(isinstance(pos.get(k), int) for k in ("h", "w", "x", "y")):
        problems.append(f"{where}: gridPos needs integer h, w, x, y")
    elif pos["w"] < 1 or pos["x"] < 0 or pos["x"] + pos["w"] > GRID_COLUMNS:
        problems.append(f"{where}: gridPos x={pos['x']} w={pos['w']} leaves the 24-column grid")
    return problems


def _datasource_refs(node: object) -> Iterator[Json]:
    if isinstance(node, dict):
        ref = node.get("datasource")
        if isinstance(ref, dict):
            yield ref
        for value in node.values():
            yield from _datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_refs(item)


def _datasource_problem(ref: Json, known: set[tuple[str, str]]) -> list[str]:
    kind, uid = ref.get("type", ""), ref.get("uid", "")
    if uid in BUILTIN_DATASOURCE_UIDS or (kind in BUILTIN_DATASOURCE_TYPES and not uid):
        return []
    if (kind, uid) not in known:
        return [f"datasource {{type: {kind!r}, uid: {uid!r}}} is not provisioned"]
    return []


def clickhouse_target_problems(target: Json) -> list[str]:
    """A ClickHouse plugin query as the 4.20 plugin reads it (SQL editor queries only here)."""
    problems = [f"unknown field {k!r}" for k in sorted(set(target) - CH_TARGET_FIELDS)]
    editor = target.get("editorType")
    if editor not in CH_EDITOR_TYPES:
        return [*problems, f"editorType {editor!r} is not one of {sorted(CH_EDITOR_TYPES)}"]
    if editor == "builder":
        return problems if "builderOptions" in target else [*problems, "builder without options"]
    missing = [k for k in CH_REQUIRED_SQL_FIELDS if k not in target]
    problems += [f"missing {k!r} (the plugin runs only what is in rawSql)" for k in missing]
    raw = target.get("rawSql")
    if not isinstance(raw, str) or not raw.strip():
        problems.append("rawSql must be non-empty SQL")
    else:
        problems += _macro_problems(raw)
    query_type = target.get("queryType")
    if query_type not in CH_FORMAT_OF_QUERY_TYPE:
        problems.append(f"queryType {query_type!r} is not one of {sorted(CH_FORMAT_OF_QUERY_TYPE)}")
    elif target.get("format") != CH_FORMAT_OF_QUERY_TYPE[query_type]:
        wanted = CH_FORMAT_OF_QUERY_TYPE[query_type]
        problems.append(f"format {target.get('format')!r} for queryType {query_type!r}: {wanted}")
    return problems


def _macro_problems(sql: str) -> list[str]:
    allowed = CH_BACKEND_MACROS | CH_FRONTEND_MACROS | GRAFANA_GLOBALS
    return [f"unknown macro $__{name}" for name in _MACRO.findall(sql) if name not in allowed]


def _fields_problems(target: Json, allowed: frozenset[str], enums: list[str]) -> list[str]:
    problems = [f"unknown field {k!r}" for k in sorted(set(target) - allowed)]
    expr = target.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        problems.append("expr must be a non-empty query")
    return problems + enums


def _enum(target: Json, key: str, allowed: frozenset[str]) -> list[str]:
    value: Any = target.get(key)
    if value is not None and value not in allowed:
        return [f"{key} {value!r} is not one of {sorted(allowed)}"]
    return []


def _prometheus_enums(target: Json) -> list[str]:
    return _enum(target, "editorMode", EDITOR_MODES) + _enum(target, "format", PROMETHEUS_FORMATS)


def _loki_enums(target: Json) -> list[str]:
    return _enum(target, "editorMode", EDITOR_MODES) + _enum(target, "queryType", LOKI_QUERY_TYPES)
