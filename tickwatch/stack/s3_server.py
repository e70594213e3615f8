"""A real S3-compatible server for the local stack and the tests: gofakes3, built from Go.

Why gofakes3 (``github.com/johannesboyne/gofakes3``, pinned :data:`GOFAKES3`): it builds with
``go install`` from the Go module proxy into one static binary, keeps its buckets in a bolt file
(an archive survives a restart of the stack, unlike moto's in-memory server), and ClickHouse's
``s3()`` table function reads and writes it (multipart uploads, ranged GETs, listings for
globs). It is run path-style (``<bucket>.localhost`` names do not resolve here) and does not check
request signatures: credentials are exercised against real S3 only.

:func:`ensure_binary` builds the binary once into a directory (cached across runs);
:class:`S3Server` starts it on ``127.0.0.1`` with one bucket, and stops it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx

from tickwatch.stack import process
from tickwatch.stack.errors import ComponentExitedError, MissingToolError, ReadinessTimeoutError
from tickwatch.stack.net import ensure_port_free, free_port

GOFAKES3 = "github.com/johannesboyne/gofakes3/cmd/gofakes3@v1.2.0"
BUILD_TIMEOUT_S = 600.0


def ensure_binary(bin_dir: Path) -> Path:
    """``bin_dir/gofakes3``, built with ``go install`` if it is not there yet (blocks, ~1 min).

    Raises :class:`MissingToolError` without Go and :class:`ComponentExitedError` naming the
    build log when the build fails.
    """
    binary = bin_dir / "gofakes3"
    if binary.is_file():
        return binary
    go = process.require_tool("go", "install Go (Debian: apt-get install golang-go)")
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = bin_dir / "build.log"
    env = {**os.environ, "GOBIN": str(bin_dir.resolve()), "CGO_ENABLED": "0"}
    with log.open("wb") as out:
        done = subprocess.run(
            [go, "install", GOFAKES3], stdout=out, stderr=subprocess.STDOUT, env=env,
            timeout=BUILD_TIMEOUT_S, check=False,
        )  # fmt: skip
    if done.returncode != 0 or not binary.is_file():
        raise ComponentExitedError(
            f"building {GOFAKES3} failed; log {log}:\n{process.log_tail(log)}"
        )
    return binary


def skip_reason(enabled: bool, bin_dir: Path) -> str:
    """Why the local stack does not start the S3 server (empty: it does)."""
    if not enabled:
        return "disabled (stack.start_s3 = false)"
    if not (bin_dir / "gofakes3").is_file():
        hint = "" if shutil.which("go") else " (needs Go: apt-get install golang-go)"
        return f"not built: `make setup` builds it into {bin_dir}{hint}"
    return ""


def answers(endpoint: str, timeout_s: float = 1.0) -> bool:
    """True when an S3 server answers at ``endpoint`` (any HTTP answer); never raises."""
    try:
        httpx.get(endpoint, timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return True


class S3Server:
    """One gofakes3 process on ``127.0.0.1:<port>``; ``bucket`` created; data in ``data_dir``."""

    def __init__(
        self,
        binary: Path,
        data_dir: Path,
        bucket: str,
        *,
        port: int = 0,
        ready_timeout_s: float = 30.0,
        pid: int | None = None,
    ) -> None:
        if not binary.is_file():
            raise MissingToolError(f"{binary} not found: build it with ensure_binary()")
        self.binary, self.data_dir, self.bucket = binary, data_dir.resolve(), bucket
        self.port, self.ready_timeout_s, self._pid = port, ready_timeout_s, pid
        self.log_path = self.data_dir / "s3.log"
        self._child: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._pid if process.is_running(self._pid) else None

    def start(self) -> None:
        """Start and block until the bucket answers; raises like the other stack components."""
        if self.pid is not None:
            return
        self.port = self.port or free_port()
        ensure_port_free(self.port, "s3")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self.binary), "-backend", "bolt", "-bolt.db", str(self.data_dir / "s3.db"),
            "-host", f"127.0.0.1:{self.port}", "-initialbucket", self.bucket,
        ]  # fmt: skip
        self._child = process.spawn(argv, self.log_path)
        self._pid = self._child.pid
        outcome = process.await_ready(self._pid, self._ready, self.ready_timeout_s)
        if outcome == "ready":
            return
        tail = process.log_tail(self.log_path)
        self.stop()
        kind = ComponentExitedError if outcome == "exited" else ReadinessTimeoutError
        raise kind(f"s3 server on {self.endpoint} did not start ({outcome}); log:\n{tail}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL (bounded); the bolt file keeps the objects."""
        process.terminate(self.pid, grace_s=10.0)
        if self._child is not None:
            self._child.wait(timeout=5)
        self._child, self._pid = None, None

    def _ready(self) -> bool:
        try:
            answer = httpx.get(f"{self.endpoint}/{self.bucket}?list-type=2", timeout=1.0)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200
