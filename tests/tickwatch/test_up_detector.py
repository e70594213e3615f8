"""``tickwatch up``'s detector view, incident drill and pipe-safe output (no services)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from tickwatch.up import PipeSafeStream
from tickwatch.up.detector import (
    UP_FILE,
    DetectorView,
    IncidentDrill,
    announce_up,
    read_detector,
    request_drill,
    retire_up,
)
from tickwatch.up.panel import panel, plain_line
from tickwatch.up.status import Status

VIEW = DetectorView(
    url="http://127.0.0.1:9110",
    checks=(("consumer_lag/g/t", "CRIT"), ("heartbeat/load", "OK"), ("freshness/x", "OK")),
    alerts=(("consumer_lag/g/t", "CRIT", False),),
    emails=(("09:01:02", "[tickwatch] CRIT consumer_lag/g/t"),),
    emails_sent=1,
)
LINKS = {"status page": VIEW.url, "prometheus": "http://127.0.0.1:9090",
         "mail": "smtp://127.0.0.1:2525 (read it: tickwatch mail list)"}  # fmt: skip


def test_panel_shows_checks_alerts_emails_and_links() -> None:
    status = Status(health={"load": "up"}, detector=VIEW, links=LINKS, drill="")
    console = Console(record=True, width=120)
    console.print(panel(status, "/logs"))
    text = console.export_text()
    for expected in ("consumer_lag/g/t", "2 more passing", "open alert", "CRIT",
                     "emails sent (24 h): 1", "[tickwatch] CRIT consumer_lag/g/t",
                     "http://127.0.0.1:9110", "http://127.0.0.1:9090", "tickwatch mail list",
                     "tickwatch incident"):  # fmt: skip
        assert expected in text, text
    line = plain_line(status)
    assert "checks=CRIT:1,OK:2 alerts=consumer_lag/g/t:CRIT emails=1" in line


def test_panel_says_when_the_detector_does_not_answer() -> None:
    status = Status(detector=DetectorView(error="status API not up yet"))
    console = Console(record=True, width=100)
    console.print(panel(status, "/logs"))
    assert "detector: status API not up yet" in console.export_text()
    assert "checks=" not in plain_line(status)


def test_read_detector_without_a_detector_never_raises(tmp_path: Path) -> None:
    assert read_detector(tmp_path).error == "status API not up yet"


def test_drill_stops_then_restarts_once(tmp_path: Path) -> None:
    calls: list[str] = []
    drill = IncidentDrill(tmp_path)
    (tmp_path / "incident.json").write_text('{"seconds": 30}')
    assert drill.tick(0.0, lambda: calls.append("stop"), lambda: calls.append("start")) == ""
    drill(signal.SIGUSR1, None)
    line = drill.tick(100.0, lambda: calls.append("stop"), lambda: calls.append("start"))
    assert calls == ["stop"] and "restarts in 30 s" in line
    drill(signal.SIGUSR1, None)  # a second request during the drill does not stack up
    assert "restarts in 10 s" in drill.tick(120.0, lambda: calls.append("stop"), lambda: None)
    assert drill.tick(130.0, lambda: None, lambda: calls.append("start")) == ""
    assert calls == ["stop", "start"]


def test_incident_command_signals_the_announced_up_process(tmp_path: Path) -> None:
    with pytest.raises(LookupError, match="no running `tickwatch up`"):
        request_drill(tmp_path, 60)
    child = subprocess.Popen(
        [sys.executable, "-c", "import signal, sys, time\n"
         "signal.signal(signal.SIGUSR1, lambda *a: sys.exit(7))\n"
         "print('ready', flush=True)\ntime.sleep(30)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        (tmp_path / UP_FILE).write_text(f'{{"pid": {child.pid}}}')
        assert request_drill(tmp_path, 45) == child.pid
        assert child.wait(10) == 7
        assert '"seconds": 45' in (tmp_path / "incident.json").read_text()
    finally:
        child.kill()
        child.wait()
    announce_up(tmp_path)
    assert f'"pid": {os.getpid()}' in (tmp_path / UP_FILE).read_text()
    retire_up(tmp_path)
    assert not (tmp_path / UP_FILE).exists()


def test_pipe_safe_stream_drops_output_once_the_reader_is_gone() -> None:
    read_end, write_end = os.pipe()
    target = os.fdopen(write_end, "w")
    stream = PipeSafeStream(target)
    stream.write("hello\n")
    stream.flush()
    os.close(read_end)
    for _ in range(3):
        stream.write("x" * 100_000)  # more than a pipe buffer: EPIPE, not an exception
        stream.flush()
    assert stream.broken and not stream.isatty()
    target.close()  # the descriptor now points at /dev/null: closing is quiet


def test_pipe_safe_stream_passes_other_errors_on() -> None:
    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        PipeSafeStream(Full()).write("x")
