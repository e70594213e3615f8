"""Scenario 4: end-to-end latency at fixed rates, from the rows' own timestamps.

For each rate: a fresh topic set and databases, one load worker (waited for until it has its
partitions), then the simulator ingest worker at that rate for warm-up + window seconds. When
ClickHouse holds every produced record, the quantiles of ``inserted_at - event_time`` (event →
row) and ``inserted_at - kafka_time`` (Kafka append → row) are computed over the ticks whose
event time falls after the warm-up, trades and quotes together; beside them, per table, the same
quantiles and — from the load worker's ``/metrics`` just before it stops — its INSERT queries
per second and their mean duration over the whole run (warm-up included): where a table's time
goes, the batch close rules (README "When a batch closes") or the insert.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench import goals
from bench.context import BenchContext
from bench.deadline import Deadline
from bench.errors import BenchError
from bench.figures import Figure
from bench.live import ingest_worker, start_load, wait_drained
from bench.worker import WorkerProcess

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
    SELECT 'trades' AS tbl, event_time, kafka_time, inserted_at FROM {market}.trades
    WHERE event_time >= fromUnixTimestamp64Micro({{since:Int64}}, 'UTC')
    UNION ALL
    SELECT 'quotes' AS tbl, event_time, kafka_time, inserted_at FROM {market}.quotes
    WHERE event_time >= fromUnixTimestamp64Micro({{since:Int64}}, 'UTC')
)
"""
PER_TABLE_SQL = LATENCY_SQL.replace("SELECT count() AS rows,", "SELECT tbl, count() AS rows,") + (
    "GROUP BY tbl ORDER BY tbl"
)
INSERTS = "tickwatch_load_batch_rows"  # histogram: one observation per INSERT query
INSERT_SECONDS = "tickwatch_load_insert_duration_seconds"
METRICS_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class TableLatency:
    """One table's quantiles (seconds), and the load worker's INSERT queries per second and
    their mean duration over the run."""

    table: str
    event_to_row: tuple[float, ...]
    kafka_to_row: tuple[float, ...]
    inserts_per_s: float
    insert_mean_s: float

    def as_json(self) -> dict[str, Any]:
        return {
            "event_to_row_s": dict(zip(("p50", "p95", "p99"), self.event_to_row, strict=True)),
            "kafka_to_row_s": dict(zip(("p50", "p95", "p99"), self.kafka_to_row, strict=True)),
            "inserts_per_s": round(self.inserts_per_s, 2),
            "insert_mean_s": round(self.insert_mean_s, 4),
        }


@dataclass(frozen=True)
class Latency:
    """Latency quantiles (seconds) over ``rows`` ticks spanning ``span_s`` of event time."""

    rate: int
    rows: int
    event_to_row: tuple[float, ...]
    kafka_to_row: tuple[float, ...]
    span_s: float
    tables: tuple[TableLatency, ...] = field(default=())

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
            "tables": {t.table: t.as_json() for t in self.tables},
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
        started = time.monotonic()
        since_us = int((time.time() + warmup) * 1e6)
        code = ing.wait(min(warmup + window + EXIT_GRACE_S, deadline.remaining()))
        if code != 0:
            raise ing.failure(f"at {rate}/s ended with code {code} (None: still running)")
        wait_drained(ctx, topics, databases, deadline)
        inserts = _insert_stats(load, time.monotonic() - started)
    result = _query(ctx, databases.market, rate, since_us, inserts)
    ctx.warehouse.drop(databases)
    return result


def figures(result: Latency) -> list[Figure]:
    """Two rows per rate (event → row, Kafka → row), then one per table; the p99 is the
    figure's value."""
    label = f"{result.rate / 1000:g}k/s"
    goal = goals.E2E_P99_AT_10K_S if result.rate == GOAL_RATE else None
    per_table = [
        Figure(NAME, f"event → row @ {label}, {t.table}", t.event_to_row[-1], "s",
               display=_quantiles(t.event_to_row),
               note=f"Kafka → row {_quantiles(t.kafka_to_row)}; {t.inserts_per_s:.1f} INSERT/s,"
                    f" {t.insert_mean_s * 1000:.0f} ms each")
        for t in result.tables
    ]  # fmt: skip
    return [
        Figure(NAME, f"event → row @ {label}", result.event_to_row[-1], "s", goal,
               display=_quantiles(result.event_to_row), extra=result.as_json()),
        Figure(NAME, f"Kafka → row @ {label}", result.kafka_to_row[-1], "s",
               display=_quantiles(result.kafka_to_row)),
        Figure(NAME, f"achieved rate @ {label}", result.achieved_rate, "ticks/s",
               note=f"{result.rows:,} ticks measured"),
        *per_table,
    ]  # fmt: skip


def _query(
    ctx: BenchContext,
    market: str,
    rate: int,
    since_us: int,
    inserts: dict[str, tuple[float, float]],
) -> Latency:
    """The quantiles over both tables and per table; ``inserts``: per table, INSERT queries
    per second and their mean seconds (:func:`_insert_stats`)."""
    client, params = ctx.warehouse.client, {"since": since_us}
    result = client.query(LATENCY_SQL.format(market=market), parameters=params)
    rows, event_q, kafka_q, span = result.result_rows[0]
    if not rows:
        raise BenchError(f"no ticks after the warm-up at {rate}/s in {market}")
    per_table = client.query(PER_TABLE_SQL.format(market=market), parameters=params)
    tables = tuple(
        TableLatency(str(t), tuple(e), tuple(k), *inserts.get(str(t), (0.0, 0.0)))
        for t, _, e, k, _ in per_table.result_rows
    )
    return Latency(rate, int(rows), tuple(event_q), tuple(kafka_q), float(span), tables)


def _insert_stats(load: WorkerProcess, seconds: float) -> dict[str, tuple[float, float]]:
    """Per table: the load worker's INSERT queries per second over ``seconds`` and their mean
    duration, from its ``/metrics``."""
    url = f"http://127.0.0.1:{load.env['TICKWATCH_LOAD_METRICS_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=METRICS_TIMEOUT_S) as response:
        exposition = response.read().decode()
    counts = _histogram(exposition, INSERTS, "_count")
    sums, durations = (
        _histogram(exposition, INSERT_SECONDS, "_sum"),
        _histogram(exposition, INSERT_SECONDS, "_count"),
    )
    return {
        table: (
            n / seconds,
            sums.get(table, 0.0) / durations[table] if durations.get(table) else 0.0,
        )
        for table, n in counts.items()
    }


def _histogram(exposition: str, name: str, suffix: str) -> dict[str, float]:
    """Per ``table`` label (without its database), the ``suffix`` sample of histogram ``name``."""
    return {
        sample.labels["table"].rsplit(".", 1)[-1]: float(sample.value)
        for family in text_string_to_metric_families(exposition)
        if family.name == name
        for sample in family.samples
        if sample.name == name + suffix
    }


def _quantiles(values: tuple[float, ...]) -> str:
    return (
        " · ".join(
            f"p{round(q * 100)} {v * 1000:,.0f}" for q, v in zip(QUANTILES, values, strict=True)
        )
        + " ms"
    )
