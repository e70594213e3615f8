"""The local SMTP server as a detached process (for ``tickwatch stack up``)."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from tickwatch.stack import process
from tickwatch.stack.errors import ComponentExitedError, ReadinessTimeoutError
from tickwatch.stack.mailserver import PASSWORD_ENV
from tickwatch.stack.net import LOOPBACK, accepts_connections, ensure_port_free, free_port


class MailProcess:
    """Start and stop ``python -m tickwatch.stack.mailserver`` storing mail in ``mail_dir``."""

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int = 0,
        starttls: bool = False,
        auth: tuple[str, str] | None = None,
        ready_timeout_s: float = 30.0,
        pid: int | None = None,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.mail_dir = self.state_dir / "mail"
        self.cert_dir = self.state_dir / "tls"
        self.log_path = self.state_dir / "logs" / "smtp.log"
        self.host = LOOPBACK
        self.port = port
        self.starttls = starttls
        self.auth = auth
        self.ready_timeout_s = ready_timeout_s
        self._pid = pid

    @property
    def pid(self) -> int | None:
        """The process id while it runs, else None."""
        return self._pid if process.is_running(self._pid) else None

    @property
    def cert_path(self) -> Path | None:
        """The self-signed certificate clients must trust (None without STARTTLS)."""
        return self.cert_dir / "cert.pem" if self.starttls else None

    def start(self) -> None:
        """Start the server process; blocks until it accepts connections.

        Raises ``PortInUseError``, :class:`ComponentExitedError` or
        :class:`ReadinessTimeoutError` (the last two with the log's tail).
        """
        if self.pid is not None:
            return
        self.port = self.port or free_port()
        ensure_port_free(self.port, "smtp")
        env = dict(os.environ)
        argv = [
            sys.executable,
            "-m",
            "tickwatch.stack.mailserver",
            "--mail-dir",
            str(self.mail_dir),
        ]
        argv += ["--port", str(self.port)]
        if self.starttls:
            argv += ["--starttls", "--cert-dir", str(self.cert_dir)]
        if self.auth is not None:
            argv += ["--auth-user", self.auth[0]]
            env[PASSWORD_ENV] = self.auth[1]
        self._pid = process.spawn(argv, self.log_path, env=env).pid
        probe = functools.partial(accepts_connections, self.port)
        outcome = process.await_ready(self._pid, probe, self.ready_timeout_s)
        if outcome != "ready":
            self._fail(outcome)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``; blocks until the process is gone."""
        process.terminate(self.pid, grace_s)
        self._pid = None

    def _fail(self, outcome: str) -> None:
        tail = process.log_tail(self.log_path)
        if outcome == "exited":
            self._pid = None
            raise ComponentExitedError(f"smtp server exited while starting; log tail:\n{tail}")
        self.stop()
        raise ReadinessTimeoutError(f"smtp server did not listen on port {self.port}:\n{tail}")
