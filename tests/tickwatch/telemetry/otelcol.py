"""Real OpenTelemetry Collectors for the tests, built with the Collector Builder (ocb).

:func:`ensure_collector` builds a collector from an ocb manifest with Go from the module proxy,
once: the binary is cached under ``<state dir>/otelcol/<manifest hash>/`` and reused while the
manifest is unchanged. Two manifests: ``otelcol-builder.yaml`` (OTLP receiver + debug exporter:
what the OTLP tests send to) and ``otelcol-compose-builder.yaml`` (the components of the compose
collector, contrib clickhouse exporter included, to run ``otel-collector/config.yaml`` itself).
``scripts/setup.sh`` builds both (``python -m tests.telemetry.otelcol --build``), so a fresh
clone's ``make test`` has them; the fixtures call it too. Without Go it raises with the install
command: the tests fail rather than skip. Measured on the 2-core shared VM under load (nice 19),
with empty Go module and build caches: ocb + the test collector 403 s, then the compose
collector 50 s (454 s in all); with warm Go caches 4-9 s each; cached: 0 s.

:class:`Collector` runs one on two free loopback ports (gRPC and HTTP) and parses what the debug
exporter prints (``verbosity: detailed``) into :class:`ReceivedSpan` / :class:`ReceivedLog`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

MANIFEST = Path(__file__).with_name("otelcol-builder.yaml")
# The compose collector's components (contrib clickhouse exporter...), to run its config for real.
COMPOSE_MANIFEST = Path(__file__).with_name("otelcol-compose-builder.yaml")
BUILDER_MODULE = "go.opentelemetry.io/collector/cmd/builder@v0.165.0"
BUILD_TIMEOUT_S = 1200
LOOPBACK = "127.0.0.1"


class CollectorBuildError(RuntimeError):
    """The test collector could not be built; the message says what to install or fix."""


def default_state_dir() -> Path:
    """The state directory ``scripts/setup.sh`` uses (``$TICKWATCH_STACK_STATE_DIR``)."""
    repo = Path(__file__).resolve().parents[3]
    return Path(os.environ.get("TICKWATCH_STACK_STATE_DIR") or repo / ".tickwatch").resolve()


def ensure_collector(state_dir: Path | None = None, manifest_path: Path = MANIFEST) -> Path:
    """The path of the collector ``manifest_path`` describes, building it when not cached."""
    digest = hashlib.sha256(manifest_path.read_bytes()).hexdigest()[:12]
    out_dir = (state_dir or default_state_dir()).resolve() / "otelcol" / digest
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    name = str(manifest["dist"]["name"])
    binary = out_dir / name
    if binary.is_file():
        return binary
    go = shutil.which("go")
    if go is None:
        raise CollectorBuildError(
            "Go is needed to build the test collector (Debian: apt-get install golang-go)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    builder = _install_builder(go, out_dir.parent)
    manifest["dist"]["output_path"] = str(out_dir / "build")
    config = out_dir / "builder.yaml"
    config.write_text(yaml.safe_dump(manifest), encoding="utf-8")
    _run([str(builder), "--config", str(config)], out_dir / "build.log")
    shutil.copy2(out_dir / "build" / name, binary)
    return binary


def _install_builder(go: str, out_dir: Path) -> Path:
    bin_dir = out_dir / "bin"
    builder = bin_dir / "builder"
    if not builder.is_file():
        env = {**os.environ, "GOBIN": str(bin_dir)}
        _run([go, "install", BUILDER_MODULE], out_dir / "builder-install.log", env)
    return builder


def _run(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> None:
    with log.open("wb") as out:
        done = subprocess.run(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=BUILD_TIMEOUT_S, check=False
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise CollectorBuildError(f"{' '.join(cmd[:2])} failed ({done.returncode}):\n{tail}")


# ------------------------------------------------------------------ running it


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as the collector decoded it."""

    name: str
    trace_id: str
    span_id: str
    resource: dict[str, str]
    attributes: dict[str, str]


@dataclass(frozen=True)
class ReceivedLog:
    """One log record as the collector decoded it."""

    body: str
    severity_text: str
    severity_number: int
    trace_id: str
    resource: dict[str, str]


@dataclass
class Collector:
    """A running test collector; ``grpc_endpoint`` / ``http_endpoint`` are its OTLP URLs."""

    process: subprocess.Popen[bytes]
    output: Path
    grpc_port: int
    http_port: int
    _log: IO[bytes] = field(repr=False)

    @property
    def http_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.grpc_port}"

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def spans(self) -> list[ReceivedSpan]:
        return [_span(block, res) for res, block in _items(self.text(), "Span #")]

    def logs(self) -> list[ReceivedLog]:
        return [_log(block, res) for res, block in _items(self.text(), "LogRecord #")]

    def wait(self, ready: object, timeout_s: float = 30.0) -> bool:
        """Poll ``ready()`` (a callable) until true or ``timeout_s`` passed."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():  # type: ignore[operator]
                return True
            time.sleep(0.2)
        return bool(ready())  # type: ignore[operator]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def start_collector(
    binary: Path,
    workdir: Path,
    config: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> Collector:
    """Start ``binary`` with OTLP receivers on free loopback ports; waits until it is ready.

    ``config`` replaces the default (OTLP -> debug exporter); its ``otlp`` receiver endpoints
    are set to the free ports either way, and its own logs to ``info`` (readiness is read there).
    """
    grpc_port, http_port = _free_port(), _free_port()
    config = config or {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"{LOOPBACK}:{grpc_port}"},
                    "http": {"endpoint": f"{LOOPBACK}:{http_port}"},
                }
            }
        },
        "exporters": {"debug": {"verbosity": "detailed", "use_internal_logger": False}},
        "service": {
            "telemetry": {"metrics": {"level": "none"}},
            "pipelines": {
                "traces": {"receivers": ["otlp"], "exporters": ["debug"]},
                "logs": {"receivers": ["otlp"], "exporters": ["debug"]},
            },
        },
    }
    protocols = config["receivers"]["otlp"]["protocols"]
    protocols["grpc"]["endpoint"] = f"{LOOPBACK}:{grpc_port}"
    protocols["http"]["endpoint"] = f"{LOOPBACK}:{http_port}"
    config["service"].setdefault("telemetry", {})["logs"] = {"level": "info"}
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "otelcol.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    output = workdir / "otelcol.out"
    log = (workdir / "otelcol.log").open("wb")
    with output.open("wb") as out:
        process = subprocess.Popen(
            [str(binary.resolve()), "--config", f"file:{path}"],
            stdout=out,
            stderr=log,
            cwd=workdir,
            env={**os.environ, **(env or {})},
        )
    collector = Collector(process, output, grpc_port, http_port, log)
    ready = (workdir / "otelcol.log").read_text
    if not collector.wait(lambda: "Everything is ready" in ready(), timeout_s=30):
        collector.stop()
        raise CollectorBuildError(f"collector did not start:\n{ready()[-2000:]}")
    return collector


# ------------------------------------------------------------------ debug exporter text

_ATTR = re.compile(r"^\s*-> ([^:]+): \w+\((.*)\)$")


def _items(text: str, marker: str) -> list[tuple[dict[str, str], str]]:
    """(resource attributes, item block) for every span or log record in ``text``."""
    found: list[tuple[dict[str, str], str]] = []
    for resource_block in re.split(r"^Resource(?:Spans|Log) #\d+$", text, flags=re.MULTILINE)[1:]:
        head, _, rest = resource_block.partition("Scope")
        resource = _attributes(head)
        for item in rest.split(marker)[1:]:
            found.append((resource, item))
    return found


def _attributes(block: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in map(_ATTR.match, block.splitlines()) if m}


def _field(block: str, name: str) -> str:
    match = re.search(rf"^\s*{re.escape(name)}\s*: ?(.*)$", block, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _span(block: str, resource: dict[str, str]) -> ReceivedSpan:
    attributes = _attributes(block.partition("Attributes:")[2])
    return ReceivedSpan(
        name=_field(block, "Name"),
        trace_id=_field(block, "Trace ID"),
        span_id=_field(block, "ID"),
        resource=resource,
        attributes=attributes,
    )


def _log(block: str, resource: dict[str, str]) -> ReceivedLog:
    body = re.search(r"^Body: \w+\((.*)\)$", block, re.MULTILINE)
    number = re.search(r"^SeverityNumber: \w+\((\d+)\)$", block, re.MULTILINE)
    return ReceivedLog(
        body=body.group(1) if body else "",
        severity_text=_field(block, "SeverityText"),
        severity_number=int(number.group(1)) if number else 0,
        trace_id=_field(block, "Trace ID"),
        resource=resource,
    )


if __name__ == "__main__":  # python -m tests.telemetry.otelcol --build [--state-dir DIR]
    import argparse

    parser = argparse.ArgumentParser(description="build the OTLP test collector (ocb)")
    parser.add_argument("--build", action="store_true", required=True)
    parser.add_argument("--state-dir", type=Path, default=None)
    args = parser.parse_args()
    for manifest in (MANIFEST, COMPOSE_MANIFEST):
        started = time.monotonic()
        print(f"test collector: {ensure_collector(args.state_dir, manifest)}", end=" ")
        print(f"({time.monotonic() - started:.0f} s)")
