"""ClickHouse served from the pinned ``chdb-core`` wheel, in a process of its own.

The wheel holds the real ClickHouse engine as the extension ``chdb/_chdb*.so``. This module runs
it as a server:

* the extension is loaded directly with importlib; ``import chdb`` is avoided because the
  package's ``__init__`` starts and stops an engine at import time, which breaks later use
  (``ENGINE = Kafka``);
* ``config.xml`` (listen host, HTTP and native ports) is written into a run directory that becomes
  the working directory, because the embedded engine reads ``./config.xml``;
* one blocking query, run in a thread, starts the listeners and then sleeps row by row for ~30
  years. Its second argument is the HTTP default format and must be ``TabSeparated``
  (clickhouse-connect's handshake fails with ``CSV``). Only one such call works per process;
* stopping = ``KILL QUERY`` on that query (found by :data:`MARKER`) over HTTP; the query returns and
  the process exits. SIGTERM does the same from inside the child; SIGKILL is the last resort, and
  the data directory survives it (MergeTree parts are written atomically).

Run it with ``python -m tickwatch.stack.clickhouse_server --data-dir D --run-dir R --http-port P
--tcp-port Q`` or through :class:`ClickHouseServer`.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from pathlib import Path

from tickwatch.stack import process
from tickwatch.stack.clickhouse_engine import (
    EXIT_PORT_IN_USE,
    MARKER,
    http_url,
    is_ready,
    request_stop,
    serve,
)
from tickwatch.stack.errors import ComponentExitedError, PortInUseError, ReadinessTimeoutError
from tickwatch.stack.net import ensure_port_free, free_port

__all__ = ["EXIT_PORT_IN_USE", "MARKER", "ClickHouseServer", "is_ready", "main", "request_stop"]


def main(argv: list[str] | None = None) -> int:
    """Command line entry point of the server process."""
    parser = argparse.ArgumentParser(description="Serve ClickHouse from the chdb-core wheel.")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--tcp-port", type=int, required=True)
    parser.add_argument("--users-file", type=Path, default=None, help="users.xml to enforce")
    parser.add_argument("--extra-config", type=Path, default=None, help="XML for <clickhouse>")
    args = parser.parse_args(argv)
    users = args.users_file.resolve() if args.users_file else None
    extra = args.extra_config.read_text(encoding="utf-8") if args.extra_config else ""
    return serve(
        args.data_dir.resolve(),
        args.run_dir.resolve(),
        args.http_port,
        args.tcp_port,
        users,
        extra_config=extra,
    )


class ClickHouseServer:
    """Start, stop and restart one ClickHouse server process; data lives in ``data_dir``.

    Ports given as 0 are chosen free at the first :meth:`start` and kept for restarts. An
    instance can also take over a server started earlier (``pid`` and both ports known).
    ``users_xml`` (see :func:`tickwatch.access.users_xml`) is written to ``run_dir/users.xml``,
    owner-readable only, and enforced: the role users and their grants exist on this server.
    """

    def __init__(
        self,
        data_dir: Path,
        run_dir: Path,
        *,
        http_port: int = 0,
        tcp_port: int = 0,
        log_path: Path | None = None,
        ready_timeout_s: float = 60.0,
        pid: int | None = None,
        users_xml: str | None = None,
        extra_config: str = "",
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.run_dir = run_dir.resolve()
        self.http_port = http_port
        self.tcp_port = tcp_port
        self.log_path = (log_path or self.run_dir / "clickhouse.log").resolve()
        self.ready_timeout_s = ready_timeout_s
        self._pid = pid
        self.users_xml = users_xml
        self.extra_config = extra_config  # XML inside <clickhouse> (stack/clickhouse_cluster.py)
        self._child: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs, else None."""
        return self._pid if process.is_running(self._pid) else None

    @property
    def url(self) -> str:
        """The HTTP endpoint (``http://127.0.0.1:<http_port>``)."""
        return http_url(self.http_port)

    def start(self) -> None:
        """Start the server and block until ``SELECT 1`` answers (at most ``ready_timeout_s``).

        Does nothing if this instance's server already runs. Raises :class:`PortInUseError` if
        a port is taken, :class:`ComponentExitedError` if the process ends while starting,
        :class:`ReadinessTimeoutError` if it does not answer in time (it is then stopped).
        """
        if self.pid is not None:
            return
        self._choose_ports()
        ensure_port_free(self.http_port, "clickhouse http")
        ensure_port_free(self.tcp_port, "clickhouse native")
        self._write_users()
        self._child = process.spawn(self._argv(), self.log_path)
        self._pid = self._child.pid
        self._wait_ready()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the server: kill its serving query over HTTP, then SIGTERM, then SIGKILL.

        Blocks until the process is gone (bounded by ``timeout_s`` plus the signal fallbacks).
        While clients hold idle keep-alive connections the engine waits about 5 s for them
        before the process exits.
        """
        pid = self.pid
        stopped = pid is None or (request_stop(self.url) and process.wait_exit(pid, timeout_s))
        if not stopped:
            process.terminate(pid)
        if self._child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._child.wait(timeout=5)
        self._child = None
        self._pid = None

    def restart(self) -> None:
        """Stop and start again on the same ports with the same data directory."""
        self.stop()
        self.start()

    def _choose_ports(self) -> None:
        if not self.http_port:
            self.http_port = free_port()
        if not self.tcp_port:
            self.tcp_port = free_port()
            while self.tcp_port == self.http_port:
                self.tcp_port = free_port()

    @property
    def users_file(self) -> Path:
        """Where ``users_xml`` is written for the server process."""
        return self.run_dir / "users.xml"

    def _write_users(self) -> None:
        if self.users_xml is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.users_file.touch(mode=0o600)
        self.users_file.chmod(0o600)
        self.users_file.write_text(self.users_xml, encoding="utf-8")

    def _argv(self) -> list[str]:
        argv = [
            sys.executable, "-m", "tickwatch.stack.clickhouse_server",
            "--data-dir", str(self.data_dir), "--run-dir", str(self.run_dir),
            "--http-port", str(self.http_port), "--tcp-port", str(self.tcp_port),
        ]  # fmt: skip
        if self.users_xml is not None:
            argv += ["--users-file", str(self.users_file)]
        if self.extra_config:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            extra = self.run_dir / "extra-config.xml"
            extra.write_text(self.extra_config, encoding="utf-8")
            argv += ["--extra-config", str(extra)]
        return argv

    def _wait_ready(self) -> None:
        outcome = process.await_ready(
            self._pid, lambda: is_ready(self.url, 1.0), self.ready_timeout_s
        )
        if outcome == "ready":
            return
        code = self._child.poll() if self._child is not None else None
        tail = process.log_tail(self.log_path)
        if outcome == "exited":
            self._child, self._pid = None, None
            kind = PortInUseError if code == EXIT_PORT_IN_USE else ComponentExitedError
            raise kind(f"clickhouse exited while starting (code {code}); log tail:\n{tail}")
        self.stop()
        raise ReadinessTimeoutError(
            f"clickhouse did not answer at {self.url} within {self.ready_timeout_s:.0f}s; "
            f"log {self.log_path}:\n{tail}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
