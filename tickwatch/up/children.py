"""The worker processes ``tickwatch up`` runs: started as ``python -m tickwatch <command>``.

Each child gets the parent's settings through ``TICKWATCH_*`` variables (every value that
differs from its default, secrets included, so a ``--config`` file or an override reaches it),
its own session (so a terminal's Ctrl-C reaches only the parent, which stops the children in
order), a parent-death signal on Linux (so no child outlives a killed parent) and a log file.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, SecretStr

from tickwatch.children import stop_child
from tickwatch.settings import ENV_PREFIX, Settings

PR_SET_PDEATHSIG = 1


def settings_env(settings: Settings) -> dict[str, str]:
    """``TICKWATCH_<SECTION>_<KEY>`` for every setting that differs from its default."""
    env: dict[str, str] = {}
    for section_name in type(settings).model_fields:
        section = getattr(settings, section_name)
        if not isinstance(section, BaseModel):
            continue
        default = type(section)()
        for key in type(section).model_fields:
            value = getattr(section, key)
            if value != getattr(default, key) and value is not None:
                env[f"{ENV_PREFIX}{section_name}_{key}".upper()] = _text(value)
    return env


def _text(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One worker process; ``start`` it, ``stop`` it, read ``returncode``."""

    command: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Spawn ``python -m tickwatch <command>``, output appended to ``log_path``."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tickwatch", self.command],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509 - only prctl, before exec
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def returncode(self) -> int | None:
        """None while running (or never started), else the exit code."""
        return self.process.poll() if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float) -> int | None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; returns the exit code."""
        if self.process is None:
            return None
        code = stop_child(self.process, timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None
        return code


def child_env(settings: Settings) -> dict[str, str]:
    """The environment for workers: ours without ``TICKWATCH_*``, plus the settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update(settings_env(settings))
    state_dir = settings.stack.state_dir.resolve()
    env[f"{ENV_PREFIX}STACK_STATE_DIR"] = str(state_dir)
    return env
