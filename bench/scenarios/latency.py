"""Scenario 4: end-to-end latency at fixed rates, from the rows' own timestamps.

For each rate: a fresh topic set and databases, one load worker (waited for until it has its
partitions), then the simulator ingest worker at that rate for warm-up + window seconds. When
ClickHouse holds every produced record, the quantiles of ``inserted_at - event_time`` (event →
row) and ``inserted_at - kafka_time`` (Kafka append → row) are computed over the ticks whose
event time falls after the warm-up, trades and quotes together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bench import goals
from bench.context import BenchContext
from bench.deadline import Deadline
from bench.errors import BenchError
from bench.figures import Figure
from bench.live import ingest_worker, start_load, wait_drained

NAME = "latency"
QUANTILES = (0.5, 0.95, 0.99)
EXIT_GRACE_S = 30.0
GOAL_RATE = 10_000

LATENCY_SQL = """
SELECT count() AS rows,
       quantilesExact(0.5, 0.95, 0.99)(
           (toUnixTimestamp64Micro(inserted_at) - toUnixTimestamp64Micro(event_time)) / 1e6),
       quantilesExact(0.5, 0.95, 0.99)(
           (toUnixTimestamp64Micro(inserted_at) - toUnixTimestamp64Milli(kafka_time) * 1000) / 1e6),
       (toUnixTimestamp64Micro(max(event_time)) - toUnixTimestamp64Micro(min(event_time))) / 1e6
FROM (
    SELECT event_time, kafka_time, inserted_at FROM {market}.trades
    WHERE event_time >= fromUnixTimestamp64Micro({{since:Int64}}, 'UTC')
    UNION ALL
    SELECT event_time, kafka_time, inserted_at FROM {market}.quotes
    WHERE event_time >= fromUnixTimestamp64Micro({{since:Int64}}, 'UTC')
)
"""


@dataclass(frozen=True)
class Latency:
    """Latency quantiles (seconds) over ``rows`` ticks spanning ``span_s`` of event time."""

    rate: int
    rows: int
    event_to_row: tuple[float, ...]
    kafka_to_row: tuple[float, ...]
    span_s: float

    @property
    def achieved_rate(self) -> float:
        return self.rows / self.span_s if self.span_s > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "rows": self.rows,
            "achieved_rate": round(self.achieved_rate),
            "event_to_row_s": dict(zip(("p50", "p95", "p99"), self.event_to_row, strict=True)),
            "kafka_to_row_s": dict(zip(("p50", "p95", "p99"), self.kafka_to_row, strict=True)),
        }


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """p50/p95/p99 latencies at each rate of ``options.rates``."""
    out: list[Figure] = []
    for rate in ctx.options.rates:
        out.extend(figures(measure(ctx, rate, deadline)))
    return out


def measure(ctx: BenchContext, rate: int, deadline: Deadline) -> Latency:
    """One rate: start load, run ingest for warm-up + window, wait for the rows, query them."""
    what = f"latency-{rate}"
    topics = ctx.topics(what)
    databases = ctx.warehouse.fresh(ctx.name(what.replace("-", "_")))
    warmup, window = ctx.options.latency_warmup_s, ctx.options.latency_window_s
    load = start_load(ctx, what, topics, databases, deadline)
    with (
        load,
        ingest_worker(
            ctx,
            f"{what}-ingest",
            topics=topics,
            databases=databases,
            rate=rate,
            duration_s=warmup + window,
        ) as ing,
    ):
        since_us = int((time.time() + warmup) * 1e6)
        code = ing.wait(min(warmup + window + EXIT_GRACE_S, deadline.remaining()))
        if code != 0:
            raise ing.failure(f"at {rate}/s ended with code {code} (None: still running)")
        wait_drained(ctx, topics, databases, deadline)
    result = _query(ctx, databases.market, rate, since_us)
    ctx.warehouse.drop(databases)
    return result


def figures(result: Latency) -> list[Figure]:
    """Two rows per rate (event → row, Kafka → row); the p99 is the figure's value."""
    label = f"{result.rate / 1000:g}k/s"
    goal = goals.E2E_P99_AT_10K_S if result.rate == GOAL_RATE else None
    return [
        Figure(NAME, f"event → row @ {label}", result.event_to_row[-1], "s", goal,
               display=_quantiles(result.event_to_row), extra=result.as_json()),
        Figure(NAME, f"Kafka → row @ {label}", result.kafka_to_row[-1], "s",
               display=_quantiles(result.kafka_to_row)),
        Figure(NAME, f"achieved rate @ {label}", result.achieved_rate, "ticks/s",
               note=f"{result.rows:,} ticks measured"),
    ]  # fmt: skip


def _query(ctx: BenchContext, market: str, rate: int, since_us: int) -> Latency:
    result = ctx.warehouse.client.query(
        LATENCY_SQL.format(market=market), parameters={"since": since_us}
    )
    rows, event_q, kafka_q, span = result.result_rows[0]
    if not rows:
        raise BenchError(f"no ticks after the warm-up at {rate}/s in {market}")
    return Latency(rate, int(rows), tuple(event_q), tuple(kafka_q), float(span))


def _quantiles(values: tuple[float, ...]) -> str:
    return (
        " · ".join(
            f"p{round(q * 100)} {v * 1000:,.0f}" for q, v in zip(QUANTILES, values, strict=True)
        )
        + " ms"
    )
