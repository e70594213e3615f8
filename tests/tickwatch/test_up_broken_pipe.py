"""``tickwatch up | tee run.log`` then Ctrl-C: ``tee`` dies with the Ctrl-C, stdout becomes a
broken pipe, and the clean-up must still stop every worker and every stack component it started.

Here ``up`` starts its own ClickHouse, SMTP server and (when installed) Prometheus; Kafka is the
harness's broker (external to ``up``, so left running by design).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tickwatch.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(kafka: KafkaSettings, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKWATCH_")}
    env.update({
        "PYTHONPATH": str(REPO),
        "TICKWATCH_STACK_STATE_DIR": str(state_dir),
        "TICKWATCH_STACK_START_PROMETHEUS": "true" if shutil.which("prometheus") else "false",
        "TICKWATCH_STACK_START_SMTP": "true",
        "TICKWATCH_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "TICKWATCH_KAFKA_TOPIC_TRADES": kafka.topic_trades,
        "TICKWATCH_KAFKA_TOPIC_QUOTES": kafka.topic_quotes,
        "TICKWATCH_KAFKA_TOPIC_BARS": kafka.topic_bars,
        "TICKWATCH_KAFKA_TOPIC_CORRECTIONS": kafka.topic_corrections,
        "TICKWATCH_KAFKA_TOPIC_DLQ": kafka.topic_dlq,
        "TICKWATCH_KAFKA_PARTITIONS": str(kafka.partitions),
        "TICKWATCH_KAFKA_CONSUMER_GROUP": kafka.consumer_group,
        "TICKWATCH_INGEST_RATE": "200",
        "TICKWATCH_INGEST_METRICS_PORT": str(_free_port()),
        "TICKWATCH_LOAD_METRICS_PORT": str(_free_port()),
        "TICKWATCH_MONITOR_METRICS_PORT": str(_free_port()),
        "TICKWATCH_STATUS_PORT": "0",
    })  # fmt: skip
    return env


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _read_until(stream: object, needle: bytes, limit_s: float, seen: list[bytes]) -> bool:
    deadline = time.monotonic() + limit_s  # bounds the wait only; nothing asserts on time
    while time.monotonic() < deadline:
        line = stream.readline()  # type: ignore[attr-defined]
        if not line:
            return False
        seen.append(line)
        if needle in line:
            return True
    return False


@pytest.mark.kafka
@pytest.mark.slow
def test_a_closed_stdout_pipe_does_not_stop_the_cleanup(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    up = subprocess.Popen(
        [sys.executable, "-m", "tickwatch", "up"],
        cwd=tmp_path,
        env=_env(kafka_settings, state),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    seen: list[bytes] = []
    try:
        assert up.stdout is not None
        assert _read_until(up.stdout, b"monitor=up", 240.0, seen), b"".join(seen).decode()
        started = {
            name: record["pid"]
            for name, record in json.loads((state / "stack.json").read_text()).items()
            if record.get("pid") and not record.get("external")
        }
        assert "clickhouse" in started and "smtp" in started, started
        descendants = [p.pid for p in psutil.Process(up.pid).children(recursive=True)]
        up.stdout.close()  # the reader goes away, as `tee` does on Ctrl-C
        up.send_signal(signal.SIGINT)
        up.wait(timeout=180)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    left = {pid for pid in [*descendants, *started.values()] if _alive(pid)}
    assert not left, f"still running after up exited: {left} (stack: {started})"
    records = json.loads((state / "stack.json").read_text())
    assert all(records[name]["pid"] is None for name in started), records
    assert up.returncode == 0
