"""Read tickwatch's Grafana dashboards and provisioning as the tests need them."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "grafana" / "dashboards"
DATASOURCES_FILE = REPO / "grafana" / "provisioning" / "datasources" / "datasources.yml"
# Where the full upstream Grafana JSON schemas are, if anywhere: only an explicit path counts
# (.ci/run sets it when CI has them); the tests never look outside the repository on their own.
SCHEMAS_ENV = "TICKWATCH_GRAFANA_SCHEMAS"

CLICKHOUSE_TYPE = "grafana-clickhouse-datasource"

Json = dict[str, Any]


@dataclass(frozen=True)
class Query:
    """One query of a dashboard: a panel target, an annotation or a variable query."""

    dashboard: str
    where: str
    datasource: Json
    target: Json

    @property
    def datasource_type(self) -> str:
        return str(self.target.get("datasource", self.datasource).get("type", ""))

    @property
    def text(self) -> str:
        """The SQL (ClickHouse) or expression (Prometheus, Loki) of this query."""
        return str(self.target.get("rawSql") or self.target.get("expr") or "")

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.where}"


def upstream_schema_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The folder named by ``$TICKWATCH_GRAFANA_SCHEMAS``, or None when it is unset or empty."""
    value = environ.get(SCHEMAS_ENV, "").strip()
    return Path(value) if value else None


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def load_dashboards() -> dict[str, Json]:
    """Every dashboard JSON under grafana/dashboards, by file stem."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in dashboard_files()}


def iter_panels(dashboard: Json) -> Iterator[Json]:
    """All panels, including those nested in (collapsed) rows; rows themselves too."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def iter_queries(name: str, dashboard: Json) -> Iterator[Query]:
    """Every query: panel targets, annotation targets, and query-variable queries."""
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            where = f"panel {panel.get('title', panel.get('id'))!r} ({target.get('refId')})"
            yield Query(name, where, panel.get("datasource", {}), target)
    for annotation in dashboard.get("annotations", {}).get("list", []):
        if "target" in annotation:
            where = f"annotation {annotation['name']!r}"
            yield Query(name, where, annotation.get("datasource", {}), annotation["target"])
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            target = {"rawSql": variable["query"], "datasource": variable["datasource"]}
            if variable["datasource"].get("type") != CLICKHOUSE_TYPE:
                target = {"expr": variable["query"], "datasource": variable["datasource"]}
            yield Query(name, f"variable ${variable['name']}", variable["datasource"], target)


def provisioned_datasources() -> list[Json]:
    document = yaml.safe_load(DATASOURCES_FILE.read_text(encoding="utf-8"))
    datasources: list[Json] = document["datasources"]
    return datasources


def datasource_refs(node: object) -> Iterator[Json]:
    """Every ``datasource`` object anywhere in a dashboard document."""
    if isinstance(node, dict):
        ref = node.get("datasource")
        if isinstance(ref, dict):
            yield ref
        for value in node.values():
            yield from datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_refs(item)
