"""``tickwatch up``: settings reach the children, the status is computed right, and a real run
starts, shows traffic and stops with no process left, twice in a row."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from pydantic import SecretStr
from rich.console import Console

from tickwatch.settings import (
    ClickHouseSettings,
    IngestSettings,
    KafkaSettings,
    Settings,
    SourceCredentials,
    StackSettings,
)
from tickwatch.up.children import settings_env
from tickwatch.up.panel import panel, plain_line
from tickwatch.up.status import StatusBoard, parse_metrics

REPO = Path(__file__).resolve().parents[2]


def test_settings_reach_the_children_through_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parent = Settings(
        _env_file=None,
        stack=StackSettings(state_dir=tmp_path, start_smtp=False),
        ingest=IngestSettings(rate=1234.5, anomalies="spike:0.01", replay_path=tmp_path / "x"),
        kafka=KafkaSettings(topic_trades="a.trades"),
        sources=SourceCredentials(polygon_api_key=SecretStr("s3cret")),
    )
    env = settings_env(parent)
    assert env["TICKWATCH_INGEST_RATE"] == "1234.5"
    assert "TICKWATCH_INGEST_SEED" not in env  # defaults are not repeated
    for name in [n for n in os.environ if n.startswith("TICKWATCH_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None) == parent


INGEST_TEXT = """# TYPE tickwatch_ingest_records_total counter
tickwatch_ingest_records_total{source="simulator",type="trade"} %d
tickwatch_ingest_records_total{source="simulator",type="quote"} %d
"""
LOAD_TEXT = """# TYPE tickwatch_load_rows_inserted_total counter
tickwatch_load_rows_inserted_total{table="trades"} %d
# TYPE tickwatch_load_consumer_lag gauge
tickwatch_load_consumer_lag{topic="t",partition="0"} 5
tickwatch_load_consumer_lag{topic="t",partition="1"} 7
# TYPE tickwatch_load_consumer_lag_seconds gauge
tickwatch_load_consumer_lag_seconds{topic="t",partition="0"} 0.5
tickwatch_load_consumer_lag_seconds{topic="t",partition="1"} 1.5
# TYPE tickwatch_load_dead_letters_total counter
tickwatch_load_dead_letters_total{reason="malformed_json"} 3
# TYPE tickwatch_load_event_to_insert_seconds histogram
tickwatch_load_event_to_insert_seconds_bucket{type="trade",le="0.1"} %d
tickwatch_load_event_to_insert_seconds_bucket{type="trade",le="1.0"} %d
tickwatch_load_event_to_insert_seconds_bucket{type="trade",le="+Inf"} %d
tickwatch_load_event_to_insert_seconds_sum{type="trade"} %f
tickwatch_load_event_to_insert_seconds_count{type="trade"} %d
"""


def test_status_turns_counters_into_rates_and_histograms_into_latency() -> None:
    board = StatusBoard()
    first = board.update(
        parse_metrics(INGEST_TEXT % (100, 50), at=10.0),
        parse_metrics(LOAD_TEXT % (100, 0, 0, 0, 0.0, 0), at=10.0),
        {"kafka": "up"},
        {},
    )
    assert first.ticks_in is None and first.e2e_mean_s is None  # no interval yet
    second = board.update(
        parse_metrics(INGEST_TEXT % (300, 150), at=12.0),
        parse_metrics(LOAD_TEXT % (400, 90, 100, 100, 20.0, 100), at=12.0),
        {"kafka": "up", "load": "exited (1)"},
        {"trades": 400},
    )
    assert second.ticks_in == 150.0 and second.ticks_out == 150.0
    assert (second.lag_offsets, second.lag_seconds, second.dead_letters) == (12.0, 1.5, 3.0)
    assert second.e2e_mean_s == pytest.approx(0.2)
    assert second.e2e_p99_s == 1.0
    line = plain_line(second)
    assert "in=150/s out=150/s lag=12 (1.5s)" in line and "load=exited (1)" in line
    console = Console(record=True, width=100)
    console.print(panel(second, "/logs"))
    text = console.export_text()
    assert "ticks/s in" in text and "exited (1)" in text and "400" in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _up_env(kafka: KafkaSettings, ch: ClickHouseSettings, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKWATCH_")}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "TICKWATCH_STACK_STATE_DIR": str(state_dir),
            "TICKWATCH_STACK_START_PROMETHEUS": "false",
            "TICKWATCH_STACK_START_SMTP": "false",
            "TICKWATCH_SMTP_HOST": "127.0.0.1",
            "TICKWATCH_SMTP_PORT": "1",
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
            "TICKWATCH_INGEST_RATE": "500",
            "TICKWATCH_INGEST_ANOMALIES": "malformed:0.01",
            "TICKWATCH_INGEST_METRICS_PORT": str(_free_port()),
            "TICKWATCH_LOAD_METRICS_PORT": str(_free_port()),
            "TICKWATCH_MONITOR_METRICS_PORT": str(_free_port()),
            "TICKWATCH_STATUS_PORT": "0",
        }
    )
    return env


def _lines(stream: object) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            lines.put(raw.decode(errors="replace"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], pattern: str, seen: list[str], limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s  # bounds the wait only; nothing asserts on time
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            continue
        seen.append(line)
        if re.search(pattern, line):
            return True
    return False


@pytest.mark.kafka
@pytest.mark.clickhouse
@pytest.mark.slow
def test_up_runs_the_pipeline_and_stops_cleanly_twice(
    kafka_settings: KafkaSettings, ch_settings: ClickHouseSettings, tmp_path: Path
) -> None:
    env = _up_env(kafka_settings, ch_settings, tmp_path / "state")
    for _ in range(2):
        child = subprocess.Popen(
            [sys.executable, "-m", "tickwatch", "up"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        seen: list[str] = []
        try:
            lines = _lines(child.stdout)
            traffic = r"out=[1-9][\d,]*/s .* dlq=[1-9].* ingest=up monitor=up"
            assert _wait_for(lines, traffic, seen, 120.0), "".join(seen)
            child.send_signal(signal.SIGINT)
            child.wait(timeout=120)
            _wait_for(lines, r"monitor exited", seen, 5.0)
        finally:
            if child.poll() is None:
                child.kill()
        output = "".join(seen)
        assert child.returncode == 0, output
        for name in ("ingest", "load", "monitor"):
            assert f"{name} exited with 0" in output, output
        pids = [int(p) for p in re.findall(r"\(pid (\d+)\), log", output)]
        assert len(pids) == 3
        assert not [
            p
            for p in pids
            if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
        ]
