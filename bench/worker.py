"""A real ``tickwatch <command>`` worker in a subprocess, its CPU time and memory watched."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import psutil

from bench.errors import BenchError
from tickwatch.children import stop_child
from tickwatch.stack import process

SAMPLE_S = 0.1
EXEC_WAIT_S = 5.0
# The child asks the kernel for SIGTERM when the bench process dies (even by SIGKILL), so no
# worker outlives a run, then becomes ``python -m tickwatch <command>`` (same pid) by exec.
# prctl(PR_SET_PDEATHSIG = 1) is Linux-only; elsewhere the call fails and is skipped.
_LAUNCH = (
    "import contextlib, ctypes, os, signal, sys\n"
    "with contextlib.suppress(Exception):\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGTERM)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'tickwatch', *sys.argv[1:]])\n"
)


@dataclass(frozen=True)
class ProcessStats:
    """CPU seconds (user + system, the process and its children) and peak resident memory."""

    cpu_s: float
    peak_rss_mb: float
    wall_s: float

    def as_json(self) -> dict[str, Any]:
        return {
            "cpu_s": round(self.cpu_s, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "wall_s": round(self.wall_s, 2),
        }


class WorkerProcess:
    """``python -m tickwatch <command>`` with ``env``, output appended to ``log_path``.

    Use as a context manager: the process is stopped on the way out whatever happened.
    """

    def __init__(self, command: str, env: Mapping[str, str], log_path: Path, cwd: Path) -> None:
        self.command = command
        self.log_path = log_path
        self._argv = [sys.executable, "-c", _LAUNCH, command]
        self._env = dict(env)
        self._cwd = cwd
        self._child: Any = None
        self._proc: psutil.Process | None = None
        self._started = 0.0
        self._peak_rss = 0
        self._cpu_s = 0.0
        self._done = threading.Event()
        self._sampler: threading.Thread | None = None

    @property
    def env(self) -> Mapping[str, str]:
        """The environment the worker runs with (read-only)."""
        return MappingProxyType(self._env)

    @property
    def pid(self) -> int:
        assert self._proc is not None, "worker not started"
        return self._proc.pid

    def start(self) -> WorkerProcess:
        """Spawn the worker and start sampling its memory; returns self. Starts at most once."""
        if self._child is not None:
            return self
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._child = subprocess.Popen(
                self._argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self._cwd, env=self._env, start_new_session=True,
            )  # fmt: skip
        self._started = time.monotonic()
        self._proc = psutil.Process(self._child.pid)
        _wait_exec(self._proc)
        self._sampler = threading.Thread(target=self._sample, name=f"bench-{self.command}")
        self._sampler.daemon = True
        self._sampler.start()
        return self

    def running(self) -> bool:
        """True while the process has not exited."""
        return self._child is not None and self._child.poll() is None

    def ensure_running(self) -> None:
        """Raise :class:`BenchError` with the log's tail if the worker has exited."""
        if not self.running():
            code = self._child.poll() if self._child is not None else None
            raise self.failure(f"exited with code {code}")

    def failure(self, what: str) -> BenchError:
        """An error saying ``tickwatch <command> <what>``, with the tail of its log."""
        return BenchError(
            f"tickwatch {self.command} {what}; log {self.log_path}:\n"
            f"{process.log_tail(self.log_path, 25)}"
        )

    def wait(self, timeout_s: float) -> int | None:
        """Wait up to ``timeout_s`` for the worker to exit by itself; its exit code or None."""
        with contextlib.suppress(Exception):
            code: int = self._child.wait(timeout=timeout_s)
            self._record()
            return code
        return None

    def stats(self) -> ProcessStats:
        """CPU seconds and peak RSS so far (exact peak from the kernel's high-water mark)."""
        self._record()
        return ProcessStats(self._cpu_s, self._peak_rss / 2**20, time.monotonic() - self._started)

    def stop(self, sig: int = signal.SIGTERM, grace_s: float = 15.0) -> ProcessStats:
        """Record the stats, then stop the worker (``sig``, SIGKILL after ``grace_s``)."""
        stats = self.stats()
        self._done.set()
        if self._child is not None:
            stop_child(self._child, grace_s, sig=sig, kill_wait_s=5.0)
        return stats

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self._child is not None:
            self.stop()

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_S):
            self._record()

    def _record(self) -> None:
        """Fold the current CPU time and RSS into the running totals; ignores a gone process."""
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(psutil.Error, OSError):
            with proc.oneshot():
                times = proc.cpu_times()
                rss = max(proc.memory_info().rss, _high_water_mark(proc.pid))
            children = sum(_cpu(child) for child in proc.children(recursive=True))
            self._cpu_s = max(self._cpu_s, times.user + times.system + children)
            self._peak_rss = max(self._peak_rss, rss)


def _cpu(proc: psutil.Process) -> float:
    with contextlib.suppress(psutil.Error):
        times = proc.cpu_times()
        return float(times.user + times.system)
    return 0.0


def _high_water_mark(pid: int) -> int:
    """``VmHWM`` (peak resident set) from ``/proc/<pid>/status`` in bytes; 0 if unreadable."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _wait_exec(proc: psutil.Process, timeout_s: float = EXEC_WAIT_S) -> None:
    """Wait until the launcher has exec'd into ``python -m tickwatch`` (a profiler attached
    before that would follow the launcher, not the worker); bounded, never raises."""
    limit = time.monotonic() + timeout_s
    while time.monotonic() < limit:
        with contextlib.suppress(psutil.Error):
            if "-m" in proc.cmdline():
                return
        time.sleep(0.005)
