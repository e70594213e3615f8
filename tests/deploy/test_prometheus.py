"""Prometheus config and rules pass promtool, and every PromQL expression returns real data.

* ``promtool check config`` / ``check rules`` / ``test rules`` on the files compose mounts, and
  ``amtool check-config`` on the Alertmanager config.
* A real Prometheus (Debian's binary) scrapes three loopback endpoints that serve the telemetry
  catalog's metrics (``catalog_exporters``) under the job names compose uses, loads the real
  rule files, and must return data for every dashboard expression (expanded like Grafana) and
  for every series each alert rule reads; every rule must evaluate without error.
* The same against the real workers (``tickwatch ingest|load|monitor`` as processes on the
  harness's Kafka and ClickHouse), except panels that read only error counters a healthy run
  never creates.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tickwatch.settings import Settings

from .catalog_exporters import LOOPBACK, CatalogExporters
from .grafana_macros import QueryContext, promql
from .grafana_model import REPO, iter_queries, load_dashboards
from .pipeline_run import free_port, start_worker, wait_for, worker_env

pytestmark = pytest.mark.prometheus

PROMETHEUS_DIR = REPO / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
RATE_INTERVAL_S = 5
SCRAPE_INTERVAL = "1s"
DASHBOARDS = load_dashboards()
_COMPARISON = re.compile(r"\s*(?:==|!=|>=|<=|>|<)\s*-?\d+(?:\.\d+)?(?![\w.])")
_SET_OPERATOR = re.compile(r"\b(?:and|or|unless)\b")


def _tool(prometheus_binary: Path, name: str) -> str:
    found = prometheus_binary.parent / name
    if found.is_file():
        return str(found)
    which = shutil.which(name)
    if which is None:
        package = "prometheus-alertmanager" if name == "amtool" else "prometheus"
        pytest.fail(f"{name} is missing: apt-get install {package}", pytrace=False)
    return which


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_check_config(prometheus_binary: Path) -> None:
    result = _run([_tool(prometheus_binary, "promtool"), "check", "config", str(CONFIG)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULE_FILES)} rule files found" in result.stdout + result.stderr


def test_promtool_check_rules(prometheus_binary: Path) -> None:
    assert RULE_FILES, "prometheus/rules/*.yml is empty"
    result = _run([_tool(prometheus_binary, "promtool"), "check", "rules", *map(str, RULE_FILES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules(prometheus_binary: Path) -> None:
    assert RULE_TESTS, "prometheus/tests/*.yml is empty"
    result = _run([_tool(prometheus_binary, "promtool"), "test", "rules", *map(str, RULE_TESTS)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_promtool_test() -> None:
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    tested = {
        case["alertname"]
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts <= tested, f"alerts never shown firing in a test: {sorted(alerts - tested)}"


def test_amtool_check_config(prometheus_binary: Path) -> None:
    amtool = _tool(prometheus_binary, "amtool")
    result = _run([amtool, "check-config", str(PROMETHEUS_DIR / "alertmanager.yml")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_scrape_targets_are_the_three_workers() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    targets = {
        job["job_name"]: target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets["ingest"] == "ingest:9101"
    assert targets["load"] == "load:9102"
    assert targets["monitor"] == "monitor:9103"


# ------------------------------------------------------------------ against a real Prometheus


def _rules() -> Iterator[dict[str, Any]]:
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            yield from group["rules"]


def _top_level_split(expr: str) -> list[str]:
    """Operands of the top-level and/or/unless of ``expr`` (the expression itself if none)."""
    parts, depth, start = [], 0, 0
    for match in re.finditer(r"[()]|" + _SET_OPERATOR.pattern, expr):
        lexeme = match.group(0)
        if lexeme in "()":
            depth += 1 if lexeme == "(" else -1
        elif depth == 0:
            parts.append(expr[start : match.start()])
            start = match.end()
    parts.append(expr[start:])
    return [p.strip() for p in parts if p.strip()]


def rule_operands(expr: str) -> list[str]:
    """The series-reading parts of an alert expression: thresholds dropped, sets split."""
    return [_COMPARISON.sub("", part) for part in _top_level_split(" ".join(expr.split()))]


@contextmanager
def running_prometheus(binary: Path, workdir: Path, targets: dict[str, int]) -> Iterator[str]:
    """A real Prometheus scraping ``job -> loopback port`` every second, with tickwatch's rules.

    Yields its URL once it answers ``/-/ready``; terminated on exit.
    """
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(path) for path in RULE_FILES],
        "scrape_configs": [
            {
                "job_name": job,
                "static_configs": [{"targets": [f"{LOOPBACK}:{port}"], "labels": {"service": job}}],
            }
            for job, port in targets.items()
        ],
    }
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(binary),
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://{LOOPBACK}:{port}"
        try:
            ready = wait_for(lambda: _ready(url), timeout_s=60)
            assert ready, log_path.read_text(errors="replace")[-2000:]
            yield url
        finally:
            process.terminate()
            process.wait(30)


@pytest.fixture
def prometheus_url(prometheus_binary: Path, tmp_path: Path) -> Iterator[str]:
    """Prometheus scraping the catalog endpoints, with enough samples for every rate window."""
    exporters = CatalogExporters()
    ports = exporters.start()
    try:
        with running_prometheus(prometheus_binary, tmp_path, ports) as url:
            assert wait_for(lambda: _all_up(url, len(ports)), timeout_s=30), "targets not up"
            time.sleep(2 * RATE_INTERVAL_S)  # enough samples for rate() over $__rate_interval
            yield url
    finally:
        exporters.stop()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _query(url: str, expr: str) -> list[Any]:
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body["status"] == "success", f"{expr}: {body.get('error')}"
    result: list[Any] = body["data"]["result"]
    return result


def _query_range(url: str, expr: str, seconds: int) -> list[Any]:
    end = time.time()
    params: dict[str, str | float] = {"query": expr, "start": end - seconds, "end": end, "step": 1}
    body = httpx.get(f"{url}/api/v1/query_range", params=params, timeout=10).json()
    assert body["status"] == "success", f"{expr}: {body.get('error')}"
    result: list[Any] = body["data"]["result"]
    return result


def _all_up(url: str, jobs: int) -> bool:
    result = _query(url, "up == 1")
    return len(result) == jobs


def test_promql_of_dashboards_and_rules_returns_data_from_a_real_prometheus(
    prometheus_url: str,
) -> None:
    """One Prometheus for both checks: starting it and filling rate windows is the slow part."""
    _every_dashboard_expression_returns_data(prometheus_url)
    _every_alert_rule_evaluates_and_reads_existing_series(prometheus_url)


def _every_dashboard_expression_returns_data(url: str) -> None:
    ctx = QueryContext.last(timedelta(minutes=5))
    empty: list[str] = []
    checked = 0
    for name, dashboard in DASHBOARDS.items():
        for query in iter_queries(name, dashboard):
            if query.datasource_type != "prometheus":
                continue
            expr = promql(query.text, {}, ctx, rate_interval_s=RATE_INTERVAL_S)
            checked += 1
            if not _query_range(url, expr, 20):
                empty.append(f"{query}: {expr}")
    assert checked >= 20
    assert not empty, "dashboard PromQL with no data:\n  " + "\n  ".join(empty)


def _every_alert_rule_evaluates_and_reads_existing_series(url: str) -> None:
    assert wait_for(lambda: _rules_evaluated(url), timeout_s=20)
    groups = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    unhealthy = [
        f"{rule['name']}: {rule.get('lastError')}"
        for group in groups
        for rule in group["rules"]
        if rule["health"] != "ok"
    ]
    assert not unhealthy, unhealthy
    empty = [
        f"{rule['alert']}: {operand}"
        for rule in _rules()
        if "alert" in rule
        for operand in rule_operands(rule["expr"])
        if not _query(url, operand)
    ]
    assert not empty, "alert expressions reading no series:\n  " + "\n  ".join(empty)


def _rules_evaluated(url: str) -> bool:
    groups = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    return bool(rules) and all(rule["health"] != "unknown" for rule in rules)


def test_rule_operands_drop_thresholds_and_split_set_operators() -> None:
    assert rule_operands("max by (topic) (x_seconds) > 30") == ["max by (topic) (x_seconds)"]
    assert rule_operands("sum(rate(a[2m])) > 0 unless sum(rate(b[2m])) > 0") == [
        "sum(rate(a[2m]))",
        "sum(rate(b[2m]))",
    ]
    assert rule_operands("histogram_quantile(0.99, sum by (le) (rate(h[5m]))) > 5") == [
        "histogram_quantile(0.99, sum by (le) (rate(h[5m])))"
    ]
    assert rule_operands('up{job=~"a|b"} == 0') == ['up{job=~"a|b"}']


# ------------------------------------------------------------------ scraping the real workers

EVENT_ONLY_METRICS = {
    "tickwatch_ingest_produce_errors_total",
    "tickwatch_source_reconnects_total",
    "tickwatch_source_dropped_total",
    "tickwatch_source_auth_failures_total",
}
"""Labelled counters whose series exist only once the event happened (a healthy run has none)."""
_METRIC_NAME = re.compile(r"\b(tickwatch_\w+|process_\w+|up)\b")
REAL_INGEST_SECONDS = 30


def _metric_family(name: str) -> str:
    return re.sub(r"_(bucket|sum|count)$", "", name)


@pytest.mark.kafka
@pytest.mark.clickhouse
@pytest.mark.smtp
@pytest.mark.slow
def test_dashboard_promql_returns_data_from_the_real_workers(
    prometheus_binary: Path,
    settings: Settings,
    smtp_server: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """Prometheus scrapes ``tickwatch ingest``, ``load`` and ``monitor`` run as processes.

    Every dashboard expression must return data, except those that read only counters a
    healthy run never increments (producer errors, reconnects, drops): those are listed. Every
    series an alert rule reads must exist too.
    """
    smtp = smtp_server()
    env = worker_env(settings, smtp.host, smtp.port, REAL_INGEST_SECONDS)
    ports = {
        job: int(env[f"TICKWATCH_{job.upper()}_METRICS_PORT"])
        for job in ("ingest", "load", "monitor")
    }
    workers = [start_worker(job, env, tmp_path / job) for job in ("load", "monitor", "ingest")]
    try:
        with running_prometheus(prometheus_binary, tmp_path / "prometheus", ports) as url:
            up = wait_for(lambda: _all_up(url, len(ports)), timeout_s=60)
            assert up, "workers not scraped:\n" + "\n".join(w.output_tail() for w in workers)
            time.sleep(2 * RATE_INTERVAL_S)
            ctx = QueryContext.last(timedelta(minutes=5))
            empty: list[str] = []
            exempt: list[str] = []
            for name, dashboard in DASHBOARDS.items():
                for query in iter_queries(name, dashboard):
                    if query.datasource_type != "prometheus":
                        continue
                    expr = promql(query.text, {}, ctx, rate_interval_s=RATE_INTERVAL_S)
                    if _query_range(url, expr, 10):
                        continue
                    families = {_metric_family(m) for m in _METRIC_NAME.findall(expr)}
                    (exempt if families <= EVENT_ONLY_METRICS else empty).append(f"{query}")
            empty += [
                f"rule {rule['alert']}: {operand}"
                for rule in _rules()
                if "alert" in rule
                for operand in rule_operands(rule["expr"])
                if not _query(url, operand)
            ]
    finally:
        for worker in workers:
            worker.stop()
    print("no data from a healthy run (event-only counters):", exempt or "none")
    assert not empty, "dashboard PromQL with no data from the real workers:\n  " + "\n  ".join(
        empty
    )
