"""``tickwatch monitor`` as a process: SIGTERM with an alert still in its group wait emails it
before exiting (issue 12 #6); the snapshot it leaves holds nothing twice. Real aiosmtpd."""

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


def test_sigterm_emails_the_alert_still_in_its_group_wait(
    tmp_path: Path, smtp_server: Callable[..., Any]
) -> None:
    server = smtp_server()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKWATCH_")}
    env |= {
        "TICKWATCH_STACK_STATE_DIR": str(tmp_path / "state"),
        "TICKWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{closed_port()}",
        "TICKWATCH_CLICKHOUSE_URL": f"http://127.0.0.1:{closed_port()}",
        "TICKWATCH_CLICKHOUSE_CONNECT_TIMEOUT_S": "1",
        "TICKWATCH_SMTP_HOST": server.host,
        "TICKWATCH_SMTP_PORT": str(server.port),
        "TICKWATCH_ALERTS_GROUP_WAIT_S": "600",  # only the SIGTERM dispatch can send it
        "TICKWATCH_MONITOR_REACHABILITY_INTERVAL_S": "1",
        "TICKWATCH_MONITOR_CHECK_TIMEOUT_S": "1",
        "TICKWATCH_MONITOR_METRICS_PORT": "0",
        "TICKWATCH_TELEMETRY_ENABLED": "false",
    }
    state = tmp_path / "state" / "alerts-state.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tickwatch", "monitor"], cwd=tmp_path, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while _pending(state) == 0:
            assert proc.poll() is None, f"monitor exited with {proc.returncode}"
            assert time.monotonic() < deadline, "no alert accepted"
            time.sleep(0.1)
        assert server.messages() == []  # still waiting for its group wait
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    (mail,) = server.messages()
    assert "reachable" in str(mail["Subject"])
    left = json.loads(state.read_text("utf-8"))
    assert left["notifier"]["pending"] == [] and left["outbox"] == []
