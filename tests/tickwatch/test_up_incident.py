"""``tickwatch incident`` against a running ``tickwatch up``: the whole loop a newcomer should see,
read from up's own status lines — load stopped → consumer-lag alert open → load back → alert
resolved, with the alert and the resolve emailed (counted by the detector's API)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tickwatch.settings import KafkaSettings

from .test_up_broken_pipe import _env

LINE_LIMIT_S = 240.0


class Lines:
    def __init__(self, stream: object) -> None:
        self.stream, self.seen = stream, []  # type: ignore[var-annotated]

    def until(self, pattern: str, limit_s: float = LINE_LIMIT_S) -> str:
        """The first line matching ``pattern``; fails with the output so far."""
        deadline = time.monotonic() + limit_s  # bounds the wait only; nothing asserts on time
        while time.monotonic() < deadline:
            line = self.stream.readline().decode(errors="replace")  # type: ignore[attr-defined]
            if not line:
                break
            self.seen.append(line)
            if re.search(pattern, line):
                return str(line)
        pytest.fail(f"no line matching {pattern!r}:\n{''.join(self.seen[-40:])}")


@pytest.mark.kafka
@pytest.mark.slow
def test_incident_drill_shows_the_whole_loop(kafka_settings: KafkaSettings, tmp_path: Path) -> None:
    env = _env(kafka_settings, tmp_path / "state")
    env["TICKWATCH_STACK_START_PROMETHEUS"] = "false"
    up = subprocess.Popen([sys.executable, "-m", "tickwatch", "up"], cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        lines = Lines(up.stdout)
        lines.until(r"monitor=up.* checks=.*OK")
        drill = subprocess.run(
            [sys.executable, "-m", "tickwatch", "incident", "--for", "25"],
            cwd=tmp_path, env=env, capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        assert drill.returncode == 0, drill.stdout + drill.stderr
        lines.until(r"incident drill: stopping load for 25 s")
        lines.until(r"load=stopped \(drill\).*incident drill: load worker stopped")
        lines.until(r"alerts=[^ ]*consumer_lag/[^ ]*:CRIT")
        lines.until(r"incident drill over: started load again")
        final = lines.until(r"load=up .*alerts=none emails=([2-9]|\d\d)")
        assert "consumer_lag" not in final.split("alerts=")[1]
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=180) == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
