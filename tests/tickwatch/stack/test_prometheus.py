"""Prometheus from the Debian package: generated scrape config, readiness, scraping a target."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, Counter, start_http_server

from tickwatch.settings import Settings
from tickwatch.stack import process
from tickwatch.stack.components import scrape_targets
from tickwatch.stack.errors import MissingToolError
from tickwatch.stack.net import free_port, wait_until
from tickwatch.stack.prometheus import PrometheusServer, scrape_config


def test_scrape_config_lists_every_job() -> None:
    config = yaml.safe_load(scrape_config({"ingest": ["127.0.0.1:9101"], "empty": []}, 2))
    assert config["global"]["scrape_interval"] == "2s"
    assert config["scrape_configs"] == [
        {"job_name": "ingest", "static_configs": [{"targets": ["127.0.0.1:9101"]}]}
    ]


@pytest.mark.usefixtures("isolated_env")
def test_default_targets_come_from_settings() -> None:
    targets = scrape_targets(Settings(), {"extra": ["127.0.0.1:9999"]})
    assert targets == {
        "tickwatch-ingest": ["127.0.0.1:9101"],
        "tickwatch-load": ["127.0.0.1:9102"],
        "tickwatch-monitor": ["127.0.0.1:9103"],
        "extra": ["127.0.0.1:9999"],
    }


@pytest.fixture
def exporter() -> Iterator[int]:
    registry = CollectorRegistry()
    Counter("tickwatch_test_events", "events seen by the test", registry=registry).inc(3)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield port
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.mark.prometheus
def test_prometheus_scrapes_a_target(
    prometheus_binary: Path, exporter: int, tmp_path: Path
) -> None:
    server = PrometheusServer(
        tmp_path,
        {"exporter": [f"127.0.0.1:{exporter}"]},
        binary=prometheus_binary,
        scrape_interval_s=1,
    )
    server.start()
    try:
        assert httpx.get(f"{server.url}/-/ready", timeout=5).status_code == 200

        def scraped() -> bool:
            response = httpx.get(
                f"{server.url}/api/v1/query",
                params={"query": "tickwatch_test_events_total"},
                timeout=5,
            )
            return bool(response.json()["data"]["result"])

        assert wait_until(scraped, 60, 0.5)
    finally:
        pid = server.pid
        server.stop()
    assert not process.is_running(pid)
    assert (tmp_path / "prometheus-data").is_dir()


def test_missing_binary_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match="apt-get install prometheus"):
        PrometheusServer(tmp_path, {}).start()
