"""Detached child processes: start with output to a log file, find again by pid.

Stopping them (SIGTERM, then SIGKILL after a grace) is the kernel's :mod:`tickwatch.children`.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import psutil

from tickwatch.children import is_running, terminate, wait_exit
from tickwatch.stack.errors import MissingToolError
from tickwatch.stack.net import wait_until

__all__ = [
    "await_ready",
    "is_running",
    "log_tail",
    "require_tool",
    "spawn",
    "started_at",
    "terminate",
    "wait_exit",
]

TAIL_LINES = 40


def require_tool(name: str, hint: str) -> str:
    """The path of program ``name``; raise :class:`MissingToolError` with ``hint`` if absent."""
    path = shutil.which(name)
    if path is None:
        raise MissingToolError(f"`{name}` was not found on PATH: {hint}")
    return path


def spawn(
    argv: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session with stdout and stderr appended to ``log_path``.

    The child does not receive the terminal's Ctrl-C and outlives the caller unless stopped.
    Raises ``OSError`` if the program cannot be executed.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )


def log_tail(log_path: Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none yet."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {log_path})"
    return "\n".join(text.splitlines()[-lines:])


def await_ready(
    pid: int | None, probe: Callable[[], bool], timeout_s: float, interval_s: float = 0.2
) -> Literal["ready", "exited", "timeout"]:
    """Poll ``probe`` while ``pid`` runs; blocks at most ``timeout_s``.

    ``"ready"`` once the probe passes, ``"exited"`` if the process ends first, else ``"timeout"``.
    """
    settled = wait_until(lambda: not is_running(pid) or probe(), timeout_s, interval_s)
    if not is_running(pid):
        return "exited"
    return "ready" if settled else "timeout"


def started_at(pid: object) -> float | None:
    """The start time (epoch seconds) of process ``pid``, or None if there is none."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None
