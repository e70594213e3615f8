"""Debian's ``prometheus`` binary, scraping the tickwatch processes, in its own process.

Layout under ``state_dir``: ``prometheus/prometheus.yml`` (generated), ``prometheus/consoles``
and ``prometheus/console_libraries`` (empty: Debian's defaults point at folders that may be
absent), ``prometheus-data/`` (the TSDB) and ``logs/prometheus.log``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import yaml

from tickwatch.stack import process
from tickwatch.stack.errors import ComponentExitedError, MissingToolError, ReadinessTimeoutError
from tickwatch.stack.net import LOOPBACK, ensure_port_free, free_port

INSTALL_HINT = (
    "the `prometheus` binary was not found: install it with `apt-get install prometheus` "
    "(`make` does this when run as root), or set stack.start_prometheus = false"
)


def find_binary() -> Path:
    """Path of ``prometheus`` on PATH; raises :class:`MissingToolError` with the install hint."""
    found = shutil.which("prometheus")
    if found is None:
        raise MissingToolError(INSTALL_HINT)
    return Path(found)


def scrape_config(targets: Mapping[str, Sequence[str]], interval_s: float = 5.0) -> str:
    """``prometheus.yml`` text with one scrape job per entry of ``targets`` (job -> host:port)."""
    jobs = [
        {"job_name": job, "static_configs": [{"targets": list(addresses)}]}
        for job, addresses in targets.items()
        if addresses
    ]
    config = {
        "global": {
            "scrape_interval": f"{interval_s:g}s",
            "evaluation_interval": f"{interval_s:g}s",
        },
        "scrape_configs": jobs,
    }
    return yaml.safe_dump(config, sort_keys=False)


def is_ready(url: str, timeout_s: float = 2.0) -> bool:
    """True when ``GET <url>/-/ready`` answers 200; never raises."""
    try:
        return httpx.get(f"{url}/-/ready", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


class PrometheusServer:
    """Start and stop a Prometheus that scrapes ``targets`` and listens on 127.0.0.1 only."""

    def __init__(
        self,
        state_dir: Path,
        targets: Mapping[str, Sequence[str]],
        *,
        port: int = 0,
        binary: Path | None = None,
        scrape_interval_s: float = 5.0,
        ready_timeout_s: float = 60.0,
        pid: int | None = None,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.config_dir = self.state_dir / "prometheus"
        self.data_dir = self.state_dir / "prometheus-data"
        self.log_path = self.state_dir / "logs" / "prometheus.log"
        self.targets = dict(targets)
        self.port = port
        self.binary = binary
        self.scrape_interval_s = scrape_interval_s
        self.ready_timeout_s = ready_timeout_s
        self._pid = pid
        self._child: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while it runs, else None."""
        return self._pid if process.is_running(self._pid) else None

    def start(self) -> None:
        """Write the configuration, start Prometheus and block until ``/-/ready`` answers.

        Raises :class:`MissingToolError` (binary absent), ``PortInUseError``,
        :class:`ComponentExitedError` or :class:`ReadinessTimeoutError` (with the log's tail).
        """
        if self.pid is not None:
            return
        binary = self.binary or find_binary()
        self.port = self.port or free_port()
        ensure_port_free(self.port, "prometheus")
        self._child = process.spawn([str(binary), *self._arguments()], self.log_path)
        self._pid = self._child.pid
        self._wait_ready()

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``; blocks until the process is gone."""
        process.terminate(self.pid, grace_s)
        if self._child is not None:
            self._child.poll()
        self._child, self._pid = None, None

    def _arguments(self) -> list[str]:
        consoles, libraries = self.config_dir / "consoles", self.config_dir / "console_libraries"
        for folder in (consoles, libraries, self.data_dir):
            folder.mkdir(parents=True, exist_ok=True)
        config = self.config_dir / "prometheus.yml"
        config.write_text(scrape_config(self.targets, self.scrape_interval_s), encoding="utf-8")
        return [
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            f"--web.console.templates={consoles}",
            f"--web.console.libraries={libraries}",
            "--web.enable-lifecycle",
        ]

    def _wait_ready(self) -> None:
        outcome = process.await_ready(
            self._pid, lambda: is_ready(self.url, 1.0), self.ready_timeout_s
        )
        if outcome == "ready":
            return
        tail = process.log_tail(self.log_path)
        if outcome == "exited":
            self._child, self._pid = None, None
            raise ComponentExitedError(f"prometheus exited while starting; log tail:\n{tail}")
        self.stop()
        raise ReadinessTimeoutError(
            f"prometheus was not ready at {self.url} within {self.ready_timeout_s:.0f}s; "
            f"log {self.log_path}:\n{tail}"
        )
