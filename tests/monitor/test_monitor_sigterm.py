"""``tickwatch monitor`` as a process (issue 12 #6), real aiosmtpd: SIGTERM with an alert still
in its group wait emails it before exiting, and the snapshot it leaves holds nothing twice;
after a kill -9 in the same moment the next process emails it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.smtp


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pending(state: Path) -> int:
    try:
        return len(json.loads(state.read_text("utf-8"))["notifier"]["pending"])
    except (OSError, ValueError, KeyError):
        return 0


def monitor_env(tmp_path: Path, server: Any, group_wait_s: float) -> dict[str, str]:
    """Environment for a detector whose Kafka and ClickHouse are unreachable (so both
    reachability checks alert at once), mailing ``server``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKWATCH_")}
    return env | {
        "TICKWATCH_STACK_STATE_DIR": str(tmp_path / "state"),
        "TICKWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{closed_port()}",
        "TICKWATCH_CLICKHOUSE_URL": f"http://127.0.0.1:{closed_port()}",
        "TICKWATCH_CLICKHOUSE_CONNECT_TIMEOUT_S": "1",
        "TICKWATCH_SMTP_HOST": server.host,
        "TICKWATCH_SMTP_PORT": str(server.port),
        "TICKWATCH_ALERTS_GROUP_WAIT_S": str(group_wait_s),
        "TICKWATCH_MONITOR_REACHABILITY_INTERVAL_S": "1",
        "TICKWATCH_MONITOR_CHECK_TIMEOUT_S": "1",
        "TICKWATCH_MONITOR_METRICS_PORT": "0",
        "TICKWATCH_TELEMETRY_ENABLED": "false",
    }


def start_monitor(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tickwatch", "monitor"], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def wait_for_pending(proc: subprocess.Popen[bytes], state: Path, timeout: float = 90) -> None:
    """Until the snapshot holds an accepted alert waiting for its group wait."""
    deadline = time.monotonic() + timeout
    while _pending(state) == 0:
        assert proc.poll() is None, f"monitor exited with {proc.returncode}"
        assert time.monotonic() < deadline, "no alert accepted"
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_sigterm_emails_the_alert_still_in_its_group_wait(
    tmp_path: Path, smtp_server: Callable[..., Any]
) -> None:
    server = smtp_server()
    state = tmp_path / "state" / "alerts-state.json"
    proc = start_monitor(tmp_path, monitor_env(tmp_path, server, 600))  # only SIGTERM sends it
    try:
        wait_for_pending(proc, state)
        assert server.messages() == []  # still waiting for its group wait
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        stop(proc)
    (mail,) = server.messages()
    assert "reachable" in str(mail["Subject"])
    left = json.loads(state.read_text("utf-8"))
    assert left["notifier"]["pending"] == [] and left["outbox"] == []


def test_after_kill_9_the_next_process_emails_what_was_accepted(
    tmp_path: Path, smtp_server: Callable[..., Any]
) -> None:
    server = smtp_server()
    state = tmp_path / "state" / "alerts-state.json"
    env = monitor_env(tmp_path, server, 600)
    first = start_monitor(tmp_path, env)
    try:
        wait_for_pending(first, state)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        stop(first)
    assert server.messages() == []
    accepted = {e["key"] for e in json.loads(state.read_text("utf-8"))["notifier"]["pending"]}
    second = start_monitor(tmp_path, env | {"TICKWATCH_ALERTS_GROUP_WAIT_S": "1"})
    try:
        deadline = time.monotonic() + 60
        while not server.messages():
            assert second.poll() is None, f"monitor exited with {second.returncode}"
            assert time.monotonic() < deadline, "the accepted alert was never emailed"
            time.sleep(0.1)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    finally:
        stop(second)
    first_mail = server.messages()[0]
    assert accepted <= {k.strip() for k in str(first_mail["X-Tickwatch-Alerts"]).split(",")}
    keys = [k.strip() for m in server.messages() for k in str(m["X-Tickwatch-Alerts"]).split(",")]
    assert len(keys) == len(set(keys))  # each alert announced once: restored as announced
