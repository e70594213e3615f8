"""Sampling profiles of a worker process with py-spy, and a summary of where its time goes.

``py-spy record --pid`` attaches to the running worker (root, or ptrace permission, needed) and
writes collapsed stacks (``frame;frame;frame count`` per line). Idle samples are kept, so the
summary shows where the worker *waits* (ClickHouse over HTTP, Kafka commits) as well as where
it computes.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

RATE_HZ = 200
STOP_WAIT_S = 20.0
MAIN_ROOT = "_run_module_as_main"
PROJECT_DIRS = ("pipeline/", "tickwatch/", "monitor/", "alerts/")
WRAPPER_SHARE = 0.9


def py_spy() -> str | None:
    """The py-spy program next to this interpreter or on PATH; None when not installed."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.is_file() else shutil.which("py-spy")


class ProfileRecorder:
    """Records ``pid`` until that process exits (or :meth:`stop`), into ``output``."""

    def __init__(self, pid: int, output: Path) -> None:
        self.output = output
        self._pid = pid
        self._child: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        """Attach py-spy; False (nothing recorded) when py-spy is not installed."""
        program = py_spy()
        if program is None:
            return False
        self.output.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            program, "record", "--pid", str(self._pid), "--rate", str(RATE_HZ), "--idle",
            "--format", "raw", "--output", str(self.output), "--nonblocking",
        ]  # fmt: skip
        self._child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return True

    def stop(self) -> Path | None:
        """Wait (bounded) for py-spy to write its file after the target exited; the file."""
        if self._child is None:
            return None
        try:
            self._child.wait(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self._child.send_signal(2)  # SIGINT: py-spy writes what it has and exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._child.wait(timeout=STOP_WAIT_S)
        return self.output if self.output.is_file() else None


@dataclass(frozen=True)
class ProfileSummary:
    """Shares of the main thread's samples: ``inclusive`` for tickwatch's own functions (the
    entry-point wrappers present in nearly every sample left out), ``own`` for the frames
    the samples stopped in (where the CPU, or the wait, actually is)."""

    samples: int
    inclusive: list[tuple[str, float]]
    own: list[tuple[str, float]]


def summarize(collapsed: Path, top: int = 12) -> ProfileSummary:
    """Summarize a py-spy raw file; only stacks of the main thread (rooted in runpy) count."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        frames = stack.split(";")
        if not count_text.isdigit() or not frames[0].startswith(MAIN_ROOT):
            continue
        count = int(count_text)
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if frame.split("(")[-1].startswith(PROJECT_DIRS):
                inclusive[frame] += count
    if not total:
        return ProfileSummary(0, [], [])
    shares = [(f, n / total) for f, n in inclusive.most_common() if n / total < WRAPPER_SHARE]
    mine = [(f, n / total) for f, n in own.most_common(top)]
    return ProfileSummary(total, shares[:top], mine)
