"""A real Prometheus scrapes a served registry; promtool lints the exposition."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tickwatch.telemetry.catalog import (
    IngestMetrics,
    LoadMetrics,
    MonitorMetrics,
    ServiceMetrics,
    TelemetryMetrics,
)
from tickwatch.telemetry.server import MetricsServer, serve

WAIT_S = 90.0  # an upper bound for a slow CI machine, never a timing assertion


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except httpx.HTTPError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.2)
    pytest.fail(f"{what}: not reached within {WAIT_S} s (last: {last!r})")


@pytest.fixture
def served() -> Iterator[tuple[MetricsServer, CollectorRegistry]]:
    registry = CollectorRegistry()
    server = serve(registry, "127.0.0.1", 0, lambda: True)
    yield server, registry
    server.close()


@pytest.fixture
def prometheus(
    prometheus_binary: Path, tmp_path: Path, served: tuple[MetricsServer, CollectorRegistry]
) -> Iterator[str]:
    server, _ = served
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: tickwatch\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{server.port}']}}]\n"
    )
    address = f"127.0.0.1:{free_port()}"
    argv = [
        str(prometheus_binary), f"--config.file={config}", f"--web.listen-address={address}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
    ]  # fmt: skip
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{address}"
    try:
        wait_for("prometheus ready", lambda: httpx.get(f"{url}/-/ready").status_code == 200)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def promql(url: str, expr: str) -> dict[str, float]:
    """Instant query; {labels-as-text: value} for each series."""
    body = httpx.get(f"{url}/api/v1/query", params={"query": expr}).json()
    assert body["status"] == "success", body
    return {str(r["metric"]): float(r["value"][1]) for r in body["data"]["result"]}


def only_value(url: str, expr: str) -> float | None:
    result = promql(url, expr)
    return next(iter(result.values())) if len(result) == 1 else None


@pytest.mark.prometheus
def test_prometheus_scrapes_the_counters_we_recorded(
    prometheus: str, served: tuple[MetricsServer, CollectorRegistry]
) -> None:
    _, registry = served
    ingest, load = IngestMetrics(registry), LoadMetrics(registry)
    ServiceMetrics(registry, "load", "1.0.0")
    ingest.produced("simulator", "trade", 1234)
    load.rows_inserted("trades", 999)
    load.end_to_end("trade", [0.05] * 40_000, [0.01] * 40_000)
    load.consumer_lag("ticks.trades", 4, 17, 2.5)
    expr = 'tickwatch_ingest_records_total{source="simulator",type="trade"}'
    assert wait_for(expr, lambda: only_value(prometheus, expr)) == 1234
    assert only_value(prometheus, 'tickwatch_load_rows_inserted_total{table="trades"}') == 999
    count = 'tickwatch_load_event_to_insert_seconds_count{type="trade"}'
    assert only_value(prometheus, count) == 40_000
    le = 'tickwatch_load_event_to_insert_seconds_bucket{type="trade",le="0.05"}'
    assert only_value(prometheus, le) == 40_000
    lag = 'tickwatch_load_consumer_lag{topic="ticks.trades",partition="4"}'
    assert only_value(prometheus, lag) == 17
    assert only_value(prometheus, 'tickwatch_build_info{service="load",version="1.0.0"}') == 1
    assert only_value(prometheus, "process_resident_memory_bytes") is not None
    load.rows_inserted("trades", 1)
    expr = 'tickwatch_load_rows_inserted_total{table="trades"} == 1000'
    assert wait_for("second scrape", lambda: only_value(prometheus, expr)) == 1000


@pytest.mark.prometheus
def test_promtool_accepts_the_full_exposition(
    prometheus_binary: Path, served: tuple[MetricsServer, CollectorRegistry]
) -> None:
    server, registry = served
    ingest, load, monitor = IngestMetrics(registry), LoadMetrics(registry), MonitorMetrics(registry)
    ServiceMetrics(registry, "ingest")
    TelemetryMetrics(registry)
    ingest.produced("replay", "quote")
    ingest.source_record_seen("replay", time.time())
    ingest.symbol_record("MSFT", time.time())
    ingest.delivery_latency(0.01)
    load.end_to_end("bar", [1.0], [0.5])
    load.batch_inserted("bars", 1, 0.01)
    monitor.check_run("freshness", "MSFT", "OK", 0.01)
    promtool = shutil.which("promtool", path=str(prometheus_binary.parent)) or "promtool"
    exposition = httpx.get(f"{server.url}/metrics").content
    result = subprocess.run(
        [promtool, "check", "metrics"], input=exposition, capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().strip() == ""
