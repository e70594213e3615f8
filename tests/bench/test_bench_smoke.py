"""Smoke test of ``python -m bench`` at a tiny size against the harness's Kafka and ClickHouse:
the throughput scenarios run end to end and produce figures. Timings are never asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def test_throughput_scenarios_produce_figures(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    code = main(
        [
            "--trades", "2000", "--naive-trades", "20", "--timeout", "120",
            "--only", "load,kafka-engine,naive,steps",
            "--kafka-bootstrap", kafka_bootstrap, "--clickhouse-url", clickhouse_url,
            "--results-dir", str(tmp_path),
        ]
    )  # fmt: skip

    assert code == 0
    results = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert {"cpu_model", "logical_cores", "clickhouse", "librdkafka"} <= set(results["machine"])
    assert {name: s["status"] for name, s in results["scenarios"].items()} == {
        "prefill": "ok", "load": "ok", "kafka-engine": "ok", "naive": "ok", "steps": "ok",
        "ratios": "ok",
    }  # fmt: skip
    figures = {(f["scenario"], f["name"]): f["value"] for f in results["figures"]}
    for key in [
        ("load", "rows/s (steady)"), ("load", "worker peak RSS"),
        ("kafka-engine", "rows/s (steady)"), ("naive", "rows/s"),
        ("ratios", "tickwatch / Kafka engine"), ("steps", "worker steps together"),
        ("steps", "JSONEachRow pass-through (build + INSERT)"),
    ]:  # fmt: skip
        assert figures[key] is not None and figures[key] > 0, key
    assert len(list(tmp_path.glob("2*.json"))) == 1
