"""The status API over real HTTP (uvicorn on a loopback port) in front of a real detector:
reads, the bearer token, validation errors, and silences / maintenance windows that change what
the detector emails. ClickHouse is an in-memory stand-in: the history is not the point here."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from alerts.render import Notification
from monitor.build_detector import build_detector
from monitor.detector import Detector
from monitor.status import CheckBoard, build_view, start_status
from monitor.status.server import StatusServer
from tickwatch.clock import ManualClock
from tickwatch.settings import AlertSettings, Settings, StackSettings, StatusSettings
from tickwatch.status_api import discover
from tickwatch.telemetry.catalog import MonitorMetrics
from tickwatch.types import CheckResult, Status

from .monitor_fakes import FakeClickHouse

TOKEN = "s3cret-for-tests"  # noqa: S105 - a test token for a loopback server


class Mailbox:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def __call__(self, n: Notification) -> None:
        self.sent.append(n)


@dataclass
class Running:
    detector: Detector
    board: CheckBoard
    clock: ManualClock
    box: Mailbox
    server: StatusServer
    http: httpx.Client
    ch: FakeClickHouse

    def fail(self, key: str, status: Status = Status.CRIT) -> None:
        check, _, target = key.partition("/")
        r = CheckResult(self.clock.time(), check, target, status, 9.0, 1.0, f"{key} is {status}")
        self.board.record([r])
        self.detector.on_results([r])

    def settle(self) -> None:
        """Let a group of events become an email (group_wait is 1 s of the manual clock)."""
        self.detector.dispatch()
        self.clock.advance(1.5)
        self.detector.dispatch()

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def start_running(tmp_path: Path, token: str, refresh_s: int = 10) -> Iterator[Running]:
    """A detector with its status server on an ephemeral port (a generator: next() starts it,
    the next next() stops it)."""
    settings = Settings(
        _env_file=None,
        stack=StackSettings(state_dir=tmp_path / "state"),
        alerts=AlertSettings(group_wait_s=1.0, maintenance_windows="Sat 00:00-01:00 UTC"),
        status=StatusSettings(port=0, api_token=SecretStr(token), refresh_s=refresh_s),
    )
    clock, box = ManualClock(), Mailbox()
    ch = FakeClickHouse(lambda sql, _p: [[0]] if sql.startswith("SELECT count()") else [])
    detector = build_detector(settings, ch, box, MonitorMetrics(CollectorRegistry()), clock)
    board = CheckBoard(clock)
    server = start_status(settings, build_view(settings, detector, board, ch, clock), clock)
    detector.outbox.start()
    http = httpx.Client(base_url=server.url, timeout=10.0)
    try:
        yield Running(detector, board, clock, box, server, http, ch)
    finally:
        http.close()
        server.close()
        detector.outbox.stop(drain_s=1)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    yield from start_running(tmp_path, TOKEN)


@pytest.fixture
def tokenless(tmp_path: Path) -> Iterator[Running]:
    yield from start_running(tmp_path, "")


def test_reads_show_checks_alerts_and_the_discovery_file(running: Running, tmp_path: Path) -> None:
    assert discover(tmp_path / "state") == running.server.url
    for _ in range(2):
        running.clock.advance(5)
        running.fail("heartbeat/load")
    checks = running.http.get("/api/v1/checks").json()
    assert [(c["key"], c["status"]) for c in checks] == [("heartbeat/load", "CRIT")]
    (alert,) = running.http.get("/api/v1/alerts").json()
    assert alert["key"] == "heartbeat/load" and alert["severity"] == "CRIT"
    assert alert["muted"] is None
    (incident,) = running.http.get("/api/v1/incidents", params={"state": "open"}).json()
    assert incident["open"] and incident["timeline"][0]["kind"] == "open"
    summary = running.http.get("/api/v1/summary").json()
    assert summary["open_alerts"] == 1 and summary["checks"] == {"CRIT": 1}
    assert summary["writes_enabled"] is True
    weekly = running.http.get("/api/v1/maintenance").json()["weekly"]
    assert weekly == [{"schedule": "Sat 00:00-01:00 UTC", "matcher": "*", "active": False}]
    page = running.http.get("/")
    assert page.status_code == 200 and "heartbeat/load" in page.text
    assert 'http-equiv="refresh"' in page.text and "//cdn" not in page.text


def test_server_close_removes_the_discovery_file(tmp_path: Path) -> None:
    gen = start_running(tmp_path, TOKEN)
    next(gen)
    assert discover(tmp_path / "state") is not None
    with pytest.raises(StopIteration):
        next(gen)
    assert discover(tmp_path / "state") is None


def test_writes_without_a_configured_token_are_refused_with_the_reason(
    tokenless: Running,
) -> None:
    response = tokenless.http.post(
        "/api/v1/silences",
        json={"matcher": "*", "duration": "1h"},
        headers={"Authorization": "Bearer anything"},
    )
    assert response.status_code == 403
    assert "TICKWATCH_STATUS_API_TOKEN" in response.json()["detail"]
    assert tokenless.http.get("/api/v1/silences").json() == []


def test_writes_need_the_right_bearer_token(running: Running) -> None:
    body = {"matcher": "*", "duration": "1h"}
    missing = running.http.post("/api/v1/silences", json=body)
    wrong = running.http.post(
        "/api/v1/silences", json=body, headers={"Authorization": "Bearer nope"}
    )
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert running.http.get("/api/v1/silences").json() == []


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"matcher": "heart beat", "duration": "1h"}, "matcher", "pattern"),
        ({"matcher": "*", "duration": "soon"}, "duration", "expected a duration"),
        ({"matcher": "*"}, "body", "exactly one of 'duration' and 'ends_at'"),
        ({"matcher": "*", "duration": "1h", "ends_at": "2030-01-01T00:00Z"}, "body", "exactly"),
        ({"matcher": "*", "ends_at": "2030-01-01T00:00"}, "ends_at", "timezone"),
        ({"matcher": "*", "ends_at": "2001-01-01T00:00Z"}, "ends_at", "in the past"),
        ({"matcher": "*", "duration": "1h", "colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_bad_input_is_422_with_the_field_and_the_reason(
    running: Running, body: dict[str, str], field: str, reason: str
) -> None:
    response = running.http.post("/api/v1/silences", json=body, headers=running.auth())
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["field"] == field and reason in e["reason"] for e in errors), errors


def test_a_silence_holds_back_the_email_and_expiring_it_sends_it(running: Running) -> None:
    created = running.http.post(
        "/api/v1/silences",
        json={"matcher": "heartbeat/*", "duration": "2h", "comment": "deploy", "created_by": "ci"},
        headers=running.auth(),
    )
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["matcher"] == "heartbeat/*" and silence["created_by"] == "ci"
    for _ in range(2):
        running.clock.advance(5)
        running.fail("heartbeat/load")
    running.settle()
    assert running.box.sent == []
    (alert,) = running.http.get("/api/v1/alerts").json()
    assert alert["muted"] == f"silence {silence['id']} (heartbeat/*)"

    expired = running.http.delete(f"/api/v1/silences/{silence['id']}", headers=running.auth())
    assert expired.json() == {"id": silence["id"], "status": "expired"}
    assert running.http.get("/api/v1/silences").json() == []
    running.settle()
    wait_for(lambda: len(running.box.sent) == 1)
    assert running.box.sent[0].alert_keys == ("heartbeat/load",)
    again = running.http.delete(f"/api/v1/silences/{silence['id']}", headers=running.auth())
    assert again.status_code == 404 and "no silence" in again.json()["detail"]


def test_a_maintenance_window_mutes_everything_until_closed(running: Running) -> None:
    opened = running.http.post(
        "/api/v1/maintenance", json={"duration": "30m"}, headers=running.auth()
    )
    assert opened.status_code == 201, opened.text
    window = opened.json()
    assert window["matcher"] == "*"
    listed = running.http.get("/api/v1/maintenance").json()["windows"]
    assert [w["id"] for w in listed] == [window["id"]]
    for _ in range(2):
        running.clock.advance(5)
        running.fail("consumer_lag/g/t", Status.WARN)
    running.settle()
    assert running.box.sent == []
    (alert,) = running.http.get("/api/v1/alerts").json()
    assert alert["muted"] == f"maintenance window {window['id']} (*)"
    page = running.http.get("/").text
    assert f"maintenance {window['id']}" in page

    closed = running.http.delete(f"/api/v1/maintenance/{window['id']}", headers=running.auth())
    assert closed.status_code == 200
    running.settle()
    wait_for(lambda: len(running.box.sent) == 1)
    assert running.box.sent[0].alert_keys == ("consumer_lag/g/t",)
