"""The project's performance goals, reported next to the figures (issues 7, 14 and 18)."""

from __future__ import annotations

from bench.figures import Goal

LOAD_ROWS_PER_S = Goal("≥ 300,000 rows/s per process", 300_000.0, higher_is_better=True)
VS_KAFKA_ENGINE = Goal("≥ 2.0× ClickHouse Kafka engine", 2.0, higher_is_better=True)
VS_CEILING = Goal("≥ 0.6× ClickHouse alone (ceiling)", 0.6, higher_is_better=True)
CPU_PER_MILLION_S = Goal("≤ 8 s worker + server per 1M rows", 8.0, higher_is_better=False)
E2E_P99_AT_10K_S = Goal("p99 ≤ 250 ms at 10k/s", 0.25, higher_is_better=False)
DETECTION_S = Goal("≤ 15 s", 15.0, higher_is_better=False)
LOAD_PEAK_RSS_MB = Goal("≤ 250 MB", 250.0, higher_is_better=False)
INGEST_RECORDS_PER_S = Goal(
    "≥ 250,000 records/s (simulator → Kafka)", 250_000.0, higher_is_better=True
)
# Not a goal of its own: the bound the floor scenario derives (bench.ratios) must reach the
# ceiling goal, or no consumer of one message per tick could meet it on this machine.
CEILING_BOUND = Goal(
    "≥ 0.6× for the ceiling goal to be reachable at all", VS_CEILING.target, higher_is_better=True
)
