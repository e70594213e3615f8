"""Stopping a child process for sure: a signal (SIGTERM), a grace period, then SIGKILL.

The one place that does it, for the workers ``tickwatch up`` runs, the local stack's components
(found again by pid, possibly started by an earlier command), the benchmark workers and the
tests' worker processes. Every wait is bounded; nothing here raises for a process that is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

import psutil

KILL_WAIT_S = 10.0
"""How long to wait for the exit after SIGKILL (the kernel reaps it; this is for the status)."""


def stop_child(
    process: subprocess.Popen[bytes],
    grace_s: float,
    *,
    sig: int = signal.SIGTERM,
    kill_wait_s: float = KILL_WAIT_S,
) -> int | None:
    """Stop our child: ``sig``, wait up to ``grace_s``, then SIGKILL and wait ``kill_wait_s``.

    Returns the exit code (negative: the signal that ended it), or None if it still runs after
    all that (a process stuck in the kernel).
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(kill_wait_s)
    return process.poll()


def terminate(
    pid: int | None,
    grace_s: float = 15.0,
    *,
    sig: int = signal.SIGTERM,
    kill_wait_s: float = KILL_WAIT_S,
) -> None:
    """The same for a process known only by ``pid``: ``sig``, ``grace_s``, SIGKILL, wait."""
    if not pid or not is_running(pid):
        _reap(pid)
        return
    with contextlib.suppress(psutil.Error):
        psutil.Process(pid).send_signal(sig)
    if wait_exit(pid, grace_s):
        return
    with contextlib.suppress(psutil.Error):
        psutil.Process(pid).kill()
    wait_exit(pid, kill_wait_s)


def is_running(pid: int | None) -> bool:
    """True when ``pid`` names a live process (zombies count as ended)."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_exit(pid: int, timeout_s: float) -> bool:
    """Wait at most ``timeout_s`` for ``pid`` to end (reaping it if it is our child)."""
    try:
        psutil.Process(pid).wait(timeout=timeout_s)
    except psutil.TimeoutExpired:
        return not is_running(pid)
    except psutil.Error:
        return True
    return True


def _reap(pid: int | None) -> None:
    """Collect the exit status of a finished child so it does not linger as a zombie."""
    if pid:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
