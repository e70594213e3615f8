"""The /metrics and /healthz endpoint on an ephemeral loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tickwatch.telemetry.catalog import LoadMetrics
from tickwatch.telemetry.server import MetricsServer, serve


@pytest.fixture
def served() -> Iterator[tuple[MetricsServer, LoadMetrics, list[bool]]]:
    registry = CollectorRegistry()
    metrics = LoadMetrics(registry)
    healthy = [True]
    server = serve(registry, "127.0.0.1", 0, lambda: healthy[0])
    yield server, metrics, healthy
    server.close()


def test_metrics_are_served_in_the_text_format(
    served: tuple[MetricsServer, LoadMetrics, list[bool]],
) -> None:
    server, metrics, _ = served
    metrics.rows_inserted("trades", 7)
    assert server.port > 0
    assert server.host == "127.0.0.1"
    response = httpx.get(f"{server.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert 'tickwatch_load_rows_inserted_total{table="trades"} 7.0' in response.text


def test_openmetrics_when_asked(served: tuple[MetricsServer, LoadMetrics, list[bool]]) -> None:
    server, _, _ = served
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
    response = httpx.get(f"{server.url}/metrics", headers=headers)
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_healthz_follows_the_callback(
    served: tuple[MetricsServer, LoadMetrics, list[bool]],
) -> None:
    server, _, healthy = served
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    healthy[0] = False
    response = httpx.get(f"{server.url}/healthz")
    assert (response.status_code, response.text) == (503, "unhealthy\n")

    def broken() -> bool:
        raise RuntimeError("health check crashed")

    server.set_health(broken)
    assert httpx.get(f"{server.url}/healthz").status_code == 503


def test_unknown_paths_are_404(served: tuple[MetricsServer, LoadMetrics, list[bool]]) -> None:
    server, _, _ = served
    assert httpx.get(f"{server.url}/").status_code == 404


def test_close_frees_the_port() -> None:
    registry = CollectorRegistry()
    first = serve(registry, "127.0.0.1", 0, lambda: True)
    port = first.port
    first.close()
    again = serve(registry, "127.0.0.1", port, lambda: True)
    assert again.port == port
    again.close()
