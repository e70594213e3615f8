"""Run the real tickwatch workers (``python -m tickwatch ingest|load|monitor``) as processes.

The dashboard tests need rows that look exactly like production's: the workers' own inserts,
spans, logs, heartbeats and detector results. Each worker is a child process configured only
through ``TICKWATCH_*`` variables (as in docker-compose.yml), started in an empty working
directory so no ``.env`` is read, and stopped with SIGTERM (then SIGKILL after a timeout).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tickwatch.settings import Settings

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port that was free on loopback a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@dataclass
class Worker:
    """One ``tickwatch <command>`` child process and the file its output goes to."""

    command: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; returns the exit code."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout_s)
        self._log.close()
        return int(self.process.returncode)

    def output_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def start_worker(command: str, env: Mapping[str, str], workdir: Path) -> Worker:
    """Start ``python -m tickwatch <command>`` with ``env`` on top of a clean environment."""
    workdir.mkdir(parents=True, exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith("TICKWATCH_")}
    log_path = workdir / f"{command}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tickwatch", command],
        cwd=workdir,
        env={**base, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return Worker(command, process, log_path, log)


def wait_for(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.5) -> bool:
    """Poll ``condition`` until it is true or ``timeout_s`` passed; returns the last result."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return condition()


def worker_env(
    settings: Settings, smtp_host: str, smtp_port: int, ingest_seconds: float
) -> dict[str, str]:
    """The TICKWATCH_* environment docker-compose.yml gives the workers, aimed at the harness."""
    kafka, ch = settings.kafka, settings.clickhouse
    return {
        "TICKWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "TICKWATCH_KAFKA_TOPIC_TRADES": kafka.topic_trades,
        "TICKWATCH_KAFKA_TOPIC_QUOTES": kafka.topic_quotes,
        "TICKWATCH_KAFKA_TOPIC_BARS": kafka.topic_bars,
        "TICKWATCH_KAFKA_TOPIC_CORRECTIONS": kafka.topic_corrections,
        "TICKWATCH_KAFKA_TOPIC_DLQ": kafka.topic_dlq,
        "TICKWATCH_KAFKA_PARTITIONS": str(kafka.partitions),
        "TICKWATCH_KAFKA_CONSUMER_GROUP": kafka.consumer_group,
        "TICKWATCH_CLICKHOUSE_URL": ch.url,
        "TICKWATCH_CLICKHOUSE_MARKET_DATABASE": ch.market_database,
        "TICKWATCH_CLICKHOUSE_OPS_DATABASE": ch.ops_database,
        "TICKWATCH_SMTP_HOST": smtp_host,
        "TICKWATCH_SMTP_PORT": str(smtp_port),
        "TICKWATCH_TELEMETRY_METRICS_HOST": LOOPBACK,
        "TICKWATCH_TELEMETRY_EXPORT_INTERVAL_S": "1",
        "TICKWATCH_TELEMETRY_HEARTBEAT_INTERVAL_S": "1",
        "TICKWATCH_INGEST_METRICS_PORT": str(free_port()),
        "TICKWATCH_LOAD_METRICS_PORT": str(free_port()),
        "TICKWATCH_MONITOR_METRICS_PORT": str(free_port()),
        "TICKWATCH_LOAD_BATCH_MAX_MS": "200",
        "TICKWATCH_LOAD_SHUTDOWN_TIMEOUT_S": "10",
        "TICKWATCH_INGEST_SOURCE": "simulator",
        "TICKWATCH_INGEST_SYMBOLS": "5",
        "TICKWATCH_INGEST_RATE": "300",
        "TICKWATCH_INGEST_DURATION_S": str(ingest_seconds),
        "TICKWATCH_INGEST_ANOMALIES": "malformed:0.02",
        "TICKWATCH_MONITOR_LAG_INTERVAL_S": "1",
        "TICKWATCH_MONITOR_REACHABILITY_INTERVAL_S": "1",
        "TICKWATCH_MONITOR_FRESHNESS_INTERVAL_S": "1",
    }
