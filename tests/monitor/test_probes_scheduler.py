"""HTTP/TCP probes against local servers, the broker check's failure path, and the job options
the scheduler gives every check."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from monitor.checks.base import run_check
from monitor.checks.probes import ProbeCheck, parse_probe_urls
from monitor.checks.reachability import KafkaReachableCheck
from monitor.errors import MonitorConfigError
from tickwatch.clock import ManualClock
from tickwatch.types import Status

from .monitor_fakes import FakeClickHouse


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_probes(http_port: int) -> None:
    dead = closed_port()
    urls = parse_probe_urls(
        f"http://127.0.0.1:{http_port}/ok, http://127.0.0.1:{http_port}/down, "
        f"tcp://127.0.0.1:{http_port}, tcp://127.0.0.1:{dead}"
    )
    results = ProbeCheck(urls, timeout_s=2, interval_s=15, clock=ManualClock()).run()
    assert [(r.status, r.message.split(":")[0]) for r in results] == [
        (Status.OK, "HTTP 200"),
        (Status.CRIT, "HTTP 503"),
        (Status.OK, "TCP connect ok"),
        (Status.CRIT, "ConnectionRefusedError"),
    ]


@pytest.mark.parametrize("spec", ["ftp://x", "tcp://127.0.0.1", "http://"])
def test_bad_probe_urls_are_config_errors(spec: str) -> None:
    with pytest.raises(MonitorConfigError, match="PROBE_URLS"):
        parse_probe_urls(spec)


def test_unreachable_broker_is_crit_and_a_crashing_check_is_unknown() -> None:
    class DeadAdmin:
        def list_topics(self, timeout: float) -> Any:
            raise RuntimeError("KafkaError{code=_TRANSPORT}")

    clock = ManualClock()
    check = KafkaReachableCheck(DeadAdmin, "127.0.0.1:1", timeout_s=1, interval_s=5, clock=clock)
    (row,) = run_check(check, clock)
    assert row.status is Status.CRIT and "_TRANSPORT" in row.message

    class Broken:
        name, interval_s = "broken", 1.0

        def run(self) -> list[Any]:
            raise ZeroDivisionError("oops")

    (row,) = run_check(Broken(), clock)
    assert row.status is Status.UNKNOWN and "ZeroDivisionError" in row.message


def test_every_check_is_one_job_that_never_overlaps_or_piles_up(tmp_path: Any) -> None:
    from prometheus_client import CollectorRegistry

    from monitor.build_detector import build_detector
    from monitor.scheduler import build_scheduler
    from tickwatch.settings import Settings, StackSettings
    from tickwatch.telemetry.catalog import MonitorMetrics

    settings = Settings(_env_file=None, stack=StackSettings(state_dir=tmp_path))
    clock, ch = ManualClock(), FakeClickHouse()

    async def no_mail(_n: Any) -> None:
        return None

    detector = build_detector(settings, ch, no_mail, MonitorMetrics(CollectorRegistry()), clock)
    check = ProbeCheck([], timeout_s=1, interval_s=7, clock=clock)
    scheduler = build_scheduler([check], detector, clock)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"check:probe", "dispatch", "flush"}
    job = jobs["check:probe"]
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 7)
    assert job.trigger.interval.total_seconds() == 7
    scheduler.start()
    try:
        assert all(j.next_run_time is not None for j in scheduler.get_jobs())  # none paused
    finally:
        scheduler.shutdown(wait=False)
