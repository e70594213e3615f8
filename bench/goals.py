"""The project's performance goals, reported next to the figures (issue 7)."""

from __future__ import annotations

from bench.figures import Goal

LOAD_ROWS_PER_S = Goal("≥ 300,000 rows/s per process", 300_000.0, higher_is_better=True)
VS_KAFKA_ENGINE = Goal("≥ 1.0× ClickHouse Kafka engine", 1.0, higher_is_better=True)
E2E_P99_AT_10K_S = Goal("p99 ≤ 500 ms at 10k/s", 0.5, higher_is_better=False)
DETECTION_S = Goal("≤ 15 s", 15.0, higher_is_better=False)
LOAD_PEAK_RSS_MB = Goal("≤ 300 MB", 300.0, higher_is_better=False)
