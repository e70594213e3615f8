"""``tickwatch up``: the whole pipeline on this machine with one command, until Ctrl-C.

Order: bring the local stack up (components already running are reused) → apply the
ClickHouse migrations → start the workers as child processes (load, ingest, and the monitor
when it is installed) → show a live panel (a plain status line every few seconds when stdout is
not a terminal) → on SIGINT/SIGTERM stop the children (ingest first so it flushes to Kafka, then
load so it drains into ClickHouse, then the monitor) → stop the stack components this run
started. Worker logs go to ``<state_dir>/logs/<worker>.log``.
"""

from __future__ import annotations

import importlib.util
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.live import Live

from tickwatch.settings import Settings
from tickwatch.telemetry import metrics_ports
from tickwatch.up.children import Child, child_env
from tickwatch.up.panel import panel, plain_line
from tickwatch.up.probe import Probe
from tickwatch.up.stack import StackRun
from tickwatch.up.status import Status, StatusBoard

REFRESH_S = 1.0
PLAIN_EVERY_S = 5.0
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


def run_up(settings: Settings) -> int:
    """Run the pipeline until a signal; return 0 when it started and stopped cleanly."""
    console = Console()
    stopper = _Stopper()
    previous = {s: signal.signal(s, stopper) for s in (signal.SIGINT, signal.SIGTERM)}
    stack = StackRun(settings)
    children: list[Child] = []
    failed = False
    try:
        endpoints = stack.up(console)
        _start_children(settings, console, children)
        stopper.watching = True
        probe = Probe(
            metrics_ports(settings),
            endpoints.kafka_bootstrap,
            stack.count_query(),
            settings.clickhouse.market_database,
        )
        _watch(console, stopper.event, children, probe, stack.logs_dir)
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


def _watch(
    console: Console, stop: threading.Event, children: list[Child], probe: Probe, logs: Path
) -> None:
    board = StatusBoard()
    if console.is_terminal:
        with Live(panel(Status(), str(logs)), console=console, refresh_per_second=2) as live:
            while not stop.wait(REFRESH_S):
                live.update(panel(_sample(board, children, probe), str(logs)))
        return
    waited = 0.0
    while not stop.wait(REFRESH_S):
        status = _sample(board, children, probe)
        waited += REFRESH_S
        if waited >= PLAIN_EVERY_S:
            waited = 0.0
            console.print(plain_line(status), soft_wrap=True)


def _sample(board: StatusBoard, children: list[Child], probe: Probe) -> Status:
    clickhouse, rows = probe.clickhouse()
    health = {"kafka": "up" if probe.kafka_up() else "down", "clickhouse": clickhouse}
    for child in children:
        if not child.running:
            health[child.command] = f"exited ({child.returncode})"
        else:
            health[child.command] = "up" if probe.worker_healthy(child.command) else "starting"
    return board.update(probe.metrics("ingest"), probe.metrics("load"), health, rows)
