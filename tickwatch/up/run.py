"""``tickwatch up``: the whole pipeline on this machine with one command, until Ctrl-C.

Order: bring the local stack up (components already running are reused) → apply the
ClickHouse migrations → start the workers as child processes (load, ingest, and the monitor
when it is installed) → show a live panel (a plain status line every few seconds when stdout is
not a terminal) with the detector's checks, open alerts and emails → on SIGINT/SIGTERM stop the
children (ingest first so it flushes to Kafka, then load so it drains into ClickHouse, then the
monitor) → stop the stack components this run started. Worker logs go to
``<state_dir>/logs/<worker>.log``. ``tickwatch incident`` (SIGUSR1) stops the load worker for a
while and starts it again (see ``up_detector.IncidentDrill``).

Output goes through :class:`PipeSafeStream`: when stdout is a pipe whose reader went away
(``make run | tee run.log`` and Ctrl-C kills ``tee`` too), writes are dropped instead of raising
``BrokenPipeError``, so the clean-up still stops every child and stack component.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import IO, Any

from rich.console import Console
from rich.live import Live

from tickwatch.settings import Settings
from tickwatch.telemetry import metrics_ports
from tickwatch.up.children import Child, child_env
from tickwatch.up.detector import (
    DRILL_SIGNAL,
    DetectorView,
    IncidentDrill,
    announce_up,
    read_detector,
    retire_up,
)
from tickwatch.up.panel import panel, plain_line
from tickwatch.up.probe import Probe
from tickwatch.up.stack import StackRun
from tickwatch.up.status import Status, StatusBoard

REFRESH_S = 1.0
PLAIN_EVERY_S = 5.0
DETECTOR_EVERY_S = 3.0
EXIT_OK, EXIT_FAILED = 0, 1


class _Stopper:
    """SIGINT/SIGTERM: interrupt start-up (KeyboardInterrupt), or end the watch loop."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.watching = False

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.event.set()
        if not self.watching:
            raise KeyboardInterrupt


class PipeSafeStream:
    """A text stream over ``target`` that survives its reader going away.

    The first ``BrokenPipeError`` (EPIPE) turns the stream into a sink, and points the file
    descriptor at /dev/null so that the interpreter's own flush at exit stays quiet too.
    """

    def __init__(self, target: IO[str]) -> None:
        self._target = target
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self._target.write(text)
            except OSError as exc:
                self._break(exc)
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._target.flush()
            except OSError as exc:
                self._break(exc)

    def isatty(self) -> bool:
        return not self.broken and self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._target, "encoding", None) or "utf-8"

    def _break(self, exc: OSError) -> None:
        if exc.errno not in (errno.EPIPE, errno.EINVAL):
            raise exc
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._target.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # no descriptor (a test's StringIO): nothing to quiet
            pass


def run_up(settings: Settings) -> int:
    """Run the pipeline until a signal; return 0 when it started and stopped cleanly."""
    console = Console(file=PipeSafeStream(sys.stdout))  # type: ignore[arg-type]
    stopper = _Stopper()
    previous = {s: signal.signal(s, stopper) for s in (signal.SIGINT, signal.SIGTERM)}
    stack = StackRun(settings)
    drill = IncidentDrill(stack.state_dir)
    previous[DRILL_SIGNAL] = signal.signal(DRILL_SIGNAL, drill)
    children: list[Child] = []
    failed = False
    try:
        endpoints = stack.up(console)
        _start_children(settings, console, children)
        announce_up(stack.state_dir)
        stopper.watching = True
        probe = Probe(
            metrics_ports(settings),
            endpoints.kafka_bootstrap,
            stack.count_query(),
            settings.clickhouse.market_database,
        )
        links = _links(settings, endpoints, stack.state_dir)
        watch = _Watch(children, probe, drill, stack.state_dir, links=links, console=console)
        _watch(console, stopper.event, watch, stack.logs_dir)
        probe.close()
    except KeyboardInterrupt:
        console.print("interrupted during start-up")
        failed = True
    except Exception as exc:  # any start-up failure is reported, then everything is stopped
        console.print(f"[red]tickwatch up failed: {exc}[/red]")
        failed = True
    finally:
        for sig in previous:  # a second Ctrl-C or SIGTERM must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        retire_up(stack.state_dir)
        codes = _stop_children(settings, children, console)
        stack.down(console)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    clean = not failed and all(code == 0 for code in codes.values())
    return EXIT_OK if clean else EXIT_FAILED


def _start_children(settings: Settings, console: Console, children: list[Child]) -> None:
    """Start the workers, appending each to ``children`` as it starts (so all get stopped)."""
    env = child_env(settings)
    logs = settings.stack.state_dir.resolve() / "logs"
    commands = ["load", "ingest"]
    if importlib.util.find_spec("monitor.cli") is not None:
        commands.append("monitor")
    for command in commands:
        child = Child(command, env, logs / f"{command}.log")
        children.append(child)
        child.start()
        console.print(f"started {child.command} (pid {child.pid}), log {child.log_path}")


def _stop_children(settings: Settings, children: list[Child], console: Console) -> dict[str, Any]:
    timeouts = {
        "ingest": settings.ingest.flush_timeout_s + 10.0,
        "load": settings.load.shutdown_timeout_s + 10.0,
    }
    order = {"ingest": 0, "load": 1}
    codes: dict[str, Any] = {}
    for child in sorted(children, key=lambda c: order.get(c.command, 2)):
        if child.process is None:
            codes[child.command] = None
            continue
        console.print(f"stopping {child.command} (pid {child.pid})...")
        codes[child.command] = child.stop(timeouts.get(child.command, 15.0))
        console.print(f"{child.command} exited with {codes[child.command]}")
    return codes


def _links(settings: Settings, endpoints: Any, state_dir: Path) -> dict[str, str]:
    """Where to look: the status page, Prometheus, the mail the detector sends."""
    s = settings.status
    links = {"status page": f"http://{s.host}:{s.port}" if s.enabled else "(disabled)"}
    if endpoints.prometheus_url:
        links["prometheus"] = endpoints.prometheus_url
    if endpoints.smtp_host:
        where = f"smtp://{endpoints.smtp_host}:{endpoints.smtp_port}"
        local = " (read it: tickwatch mail list)" if endpoints.mail_dir else ""
        links["mail"] = where + local
    return links


class _Watch:
    """One sample of everything the panel shows; runs the incident drill between samples."""

    def __init__(
        self,
        children: list[Child],
        probe: Probe,
        drill: IncidentDrill,
        state_dir: Path,
        *,
        links: dict[str, str],
        console: Console,
    ) -> None:
        self.children, self.probe, self.drill = children, probe, drill
        self.state_dir, self.links, self.console = state_dir, links, console
        self.board = StatusBoard()
        self._detector: DetectorView | None = None
        self._detector_at = 0.0

    def sample(self) -> Status:
        drill = self.drill.tick(time.monotonic(), self._stop_load, self._start_load)
        clickhouse, rows = self.probe.clickhouse()
        health = {"kafka": "up" if self.probe.kafka_up() else "down", "clickhouse": clickhouse}
        for child in self.children:
            if not child.running:
                health[child.command] = f"exited ({child.returncode})"
            elif self.probe.worker_healthy(child.command):
                health[child.command] = "up"
            else:
                health[child.command] = "starting"
        if drill:
            health["load"] = "stopped (drill)"
        status = self.board.update(
            self.probe.metrics("ingest"), self.probe.metrics("load"), health, rows
        )
        return _with_detector(status, self._read_detector(), self._live_links(), drill)

    def _read_detector(self) -> DetectorView:
        if self._detector is None or time.monotonic() - self._detector_at >= DETECTOR_EVERY_S:
            self._detector, self._detector_at = read_detector(self.state_dir), time.monotonic()
        return self._detector

    def _live_links(self) -> dict[str, str]:
        """The status page where the detector says it serves it (not yet: the configured one)."""
        url = self._detector.url if self._detector is not None else ""
        configured = self.links["status page"]
        if not url and configured.startswith("http"):
            url = f"{configured} (not serving yet)"
        return {**self.links, "status page": url or configured}

    def _load(self) -> Child | None:
        return next((c for c in self.children if c.command == "load"), None)

    def _stop_load(self) -> None:
        load = self._load()
        if load is not None and load.running:
            self.console.print(f"incident drill: stopping load for {self.drill.seconds:.0f} s")
            load.stop(30.0)

    def _start_load(self) -> None:
        load = self._load()
        if load is not None and not load.running:
            load.start()
            self.console.print(f"incident drill over: started load again (pid {load.pid})")


def _with_detector(status: Status, view: DetectorView, links: dict[str, str], drill: str) -> Status:
    return replace(status, detector=view, links=links, drill=drill)


def _watch(console: Console, stop: threading.Event, watch: _Watch, logs: Path) -> None:
    if console.is_terminal:
        with Live(panel(Status(), str(logs)), console=console, refresh_per_second=2) as live:
            while not stop.wait(REFRESH_S):
                live.update(panel(watch.sample(), str(logs)))
        return
    waited = 0.0
    while not stop.wait(REFRESH_S):
        status = watch.sample()
        waited += REFRESH_S
        if waited >= PLAIN_EVERY_S:
            waited = 0.0
            console.print(plain_line(status), soft_wrap=True)
