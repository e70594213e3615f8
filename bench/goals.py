"""The project's performance goals, reported next to the figures (issues 7, 14 and 18)."""

from __future__ import annotations

from bench.figures import Goal, ShareGoal

LOAD_ROWS_PER_S = Goal("≥ 300,000 rows/s per process", 300_000.0, higher_is_better=True)
VS_KAFKA_ENGINE = Goal("≥ 2.0× ClickHouse Kafka engine", 2.0, higher_is_better=True)
VS_CEILING = Goal("≥ 0.6× ClickHouse alone (ceiling)", 0.6, higher_is_better=True)
CPU_PER_MILLION_S = Goal("≤ 8 s worker + server per 1M rows", 8.0, higher_is_better=False)
# Issue 14's latency goals, on event → row (the load worker's INSERT returned), judged on the
# share of rows at or below each bound (bench.histogram: the bounds are bucket bounds).
E2E_P50_AT_1K = ShareGoal("p50 ≤ 120 ms at 1k/s", 0.5, higher_is_better=True, bound_s=0.12)
E2E_P99_AT_10K = ShareGoal("p99 ≤ 250 ms at 10k/s", 0.99, higher_is_better=True, bound_s=0.25)
E2E_P99_AT_50K = ShareGoal("p99 ≤ 1 s at 50k/s", 0.99, higher_is_better=True, bound_s=1.0)
LATENCY_BY_RATE = {1_000: E2E_P50_AT_1K, 10_000: E2E_P99_AT_10K, 50_000: E2E_P99_AT_50K}
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
