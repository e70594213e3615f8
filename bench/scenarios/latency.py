"""Scenario 4: end-to-end latency at fixed rates, to the moment rows become visible.

For each rate: a fresh topic set and databases, one load worker (waited for until it has its
partitions), then the simulator ingest worker at that rate for warm-up + window seconds, while
a :class:`~bench.visibility.PartWatcher` polls the trade and quote tables' parts every
``--latency-poll-ms`` (20 ms) and records when each Kafka partition's offsets became visible.
When ClickHouse holds every produced record, each tick whose event time falls after the warm-up
(counted from the first tick's event time) gets its *visible time*
(:meth:`~bench.visibility.VisibilityLog.visible_at`: the midpoint between the poll that first
showed it and the poll before, so within ± half a poll gap), and the
exact quantiles of ``visible - event_time`` (event → row) and ``visible - kafka_time`` (Kafka
append → row) are computed over both tables together and per table. Beside them: the former
measure, to the row's ``inserted_at`` (stamped when the load worker *starts* the INSERT); per
table the load worker's INSERT queries per second and their mean duration over the whole run
(warm-up included, from its ``/metrics`` just before it stops); the poll gap (the resolution);
and the ClickHouse server's CPU over the run when the bench started the server (with
``--latency-poll-ms 0``, no watcher: only the ``inserted_at`` figures, for the watcher's cost).
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from prometheus_client.parser import text_string_to_metric_families

from bench import goals
from bench.context import BenchContext
from bench.deadline import Deadline
from bench.errors import BenchError
from bench.figures import Figure
from bench.live import ingest_worker, start_load, wait_drained
from bench.scenarios.idle import cpu_ticks
from bench.visibility import PartWatcher, VisibilityLog
from bench.worker import WorkerProcess
from tickwatch.clients import clickhouse_client
from tickwatch.settings import ClickHouseSettings

NAME = "latency"
QUANTILES = (0.5, 0.95, 0.99)
EXIT_GRACE_S = 30.0
GOAL_RATE = 10_000
TABLES = ("trades", "quotes")
CLOCK_TICKS_PER_S = 100  # sysconf(SC_CLK_TCK) on Linux

ROWS_SQL = """
SELECT kafka_partition, kafka_offset, toUnixTimestamp64Micro(event_time),
       toUnixTimestamp64Milli(kafka_time) * 1000, toUnixTimestamp64Micro(inserted_at)
FROM {table} WHERE event_time >= fromUnixTimestamp64Micro({{since:Int64}}, 'UTC')
"""
FIRST_SQL = """
SELECT least((SELECT toUnixTimestamp64Micro(min(event_time)) FROM {market}.trades),
             (SELECT toUnixTimestamp64Micro(min(event_time)) FROM {market}.quotes))
"""
INSERTS = "tickwatch_load_batch_rows"  # histogram: one observation per INSERT query
INSERT_SECONDS = "tickwatch_load_insert_duration_seconds"
METRICS_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Delays:
    """Quantiles (seconds) of one set of rows: event → visible, Kafka → visible, and the former
    measures to the INSERT's start (``inserted_at``); visible ones empty without a watcher."""

    event_to_row: tuple[float, ...]
    kafka_to_row: tuple[float, ...]
    event_to_insert: tuple[float, ...]
    kafka_to_insert: tuple[float, ...]

    def as_json(self) -> dict[str, Any]:
        names = ("event_to_row_s", "kafka_to_row_s", "event_to_insert_s", "kafka_to_insert_s")
        values = (self.event_to_row, self.kafka_to_row, self.event_to_insert, self.kafka_to_insert)
        return {n: _named(v) for n, v in zip(names, values, strict=True) if v}


@dataclass(frozen=True)
class TableLatency:
    """One table's delays, and the load worker's INSERT queries per second and their mean
    duration over the run."""

    table: str
    delays: Delays
    inserts_per_s: float
    insert_mean_s: float

    def as_json(self) -> dict[str, Any]:
        return self.delays.as_json() | {
            "inserts_per_s": round(self.inserts_per_s, 2),
            "insert_mean_s": round(self.insert_mean_s, 4),
        }


@dataclass(frozen=True)
class Latency:
    """Delays over ``rows`` ticks spanning ``span_s`` of event time; ``poll_gap_s``: median and
    largest gap between the watcher's polls (0 without one); ``server_cpu``: the ClickHouse
    server's share of one core over the run (None when the bench did not start it)."""

    rate: int
    rows: int
    delays: Delays
    span_s: float
    tables: tuple[TableLatency, ...] = field(default=())
    poll_gap_s: tuple[float, float] = (0.0, 0.0)
    polls: int = 0
    server_cpu: float | None = None

    @property
    def achieved_rate(self) -> float:
        return self.rows / self.span_s if self.span_s > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "rows": self.rows,
            "achieved_rate": round(self.achieved_rate),
            **self.delays.as_json(),
            "poll_gap_s": {"median": round(self.poll_gap_s[0], 4),
                           "max": round(self.poll_gap_s[1], 4)},
            "polls": self.polls,
            "server_cpu": None if self.server_cpu is None else round(self.server_cpu, 4),
            "tables": {t.table: t.as_json() for t in self.tables},
        }  # fmt: skip


@dataclass(frozen=True)
class TableRows:
    """One table's measured rows (after the warm-up): Kafka position, times in epoch µs."""

    table: str
    partitions: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]
    event_us: npt.NDArray[np.int64]
    kafka_us: npt.NDArray[np.int64]
    inserted_us: npt.NDArray[np.int64]


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """p50/p95/p99 latencies at each rate of ``options.rates``."""
    out: list[Figure] = []
    for rate in ctx.options.rates:
        out.extend(figures(measure(ctx, rate, deadline)))
    return out


def measure(ctx: BenchContext, rate: int, deadline: Deadline) -> Latency:
    """One rate: start load, watch the tables, run ingest for warm-up + window, wait for the
    rows, query them."""
    what = f"latency-{rate}"
    topics = ctx.topics(what)
    databases = ctx.warehouse.fresh(ctx.name(what.replace("-", "_")))
    warmup, window = ctx.options.latency_warmup_s, ctx.options.latency_window_s
    pid = ctx.services.clickhouse_pid
    load = start_load(ctx, what, topics, databases, deadline)
    watcher = _watcher(ctx, databases.market)
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
        started, ticks = time.monotonic(), cpu_ticks(pid) if pid else 0
        code = ing.wait(min(warmup + window + EXIT_GRACE_S, deadline.remaining()))
        if code != 0:
            raise ing.failure(f"at {rate}/s ended with code {code} (None: still running)")
        wait_drained(ctx, topics, databases, deadline)
        seconds = time.monotonic() - started
        cpu = (cpu_ticks(pid) - ticks) / CLOCK_TICKS_PER_S / seconds if pid else None
        inserts = _insert_stats(load, seconds)
    if watcher is not None:  # every row is in: one last poll, on this thread once stopped
        watcher.stop()
        watcher.poll()
    since_us = _first_event_us(ctx, databases.market) + int(warmup * 1e6)
    rows = [_rows(ctx, f"{databases.market}.{t}", t, since_us) for t in TABLES]
    ctx.warehouse.drop(databases)
    return summarize(rate, rows, watcher.log if watcher else None, inserts, cpu)


def _watcher(ctx: BenchContext, market: str) -> PartWatcher | None:
    """The part watcher on its own client, started; None with ``--latency-poll-ms 0``."""
    period_s = ctx.options.latency_poll_ms / 1000
    if period_s <= 0:
        return None
    client = clickhouse_client(ClickHouseSettings(), ctx.warehouse.url)
    return PartWatcher(client, market, TABLES, period_s).start()


def summarize(
    rate: int,
    rows: list[TableRows],
    log: VisibilityLog | None,
    inserts: dict[str, tuple[float, float]],
    server_cpu: float | None = None,
) -> Latency:
    """The delays over all tables' rows and per table. ``log`` None: no watcher, the
    ``inserted_at`` figures only. Raises BenchError when there are no rows, or when rows were
    never seen visible (the watcher's last poll comes after every row is in)."""
    total = sum(len(t.offsets) for t in rows)
    if not total:
        raise BenchError(f"no ticks after the warm-up at {rate}/s")
    visible = [_visible(t, log) for t in rows]
    tables = tuple(
        TableLatency(t.table, _delays([t], [v]), *inserts.get(t.table, (0.0, 0.0)))
        for t, v in zip(rows, visible, strict=True)
        if len(t.offsets)
    )
    events = np.concatenate([t.event_us for t in rows])
    gaps = log.gaps if log is not None else np.zeros(0)
    return Latency(
        rate, total, _delays(rows, visible), float(events.max() - events.min()) / 1e6, tables,
        (float(np.median(gaps)), float(gaps.max())) if len(gaps) else (0.0, 0.0),
        len(gaps) + 1 if log is not None else 0, server_cpu,
    )  # fmt: skip


def _visible(rows: TableRows, log: VisibilityLog | None) -> npt.NDArray[np.float64] | None:
    """Each row's visible time in epoch µs (None without a watcher)."""
    if log is None:
        return None
    at = log.visible_at(rows.table, rows.partitions, rows.offsets)
    missing = int(np.isnan(at).sum())
    if missing:
        raise BenchError(f"{missing:,} rows of {rows.table} were never seen visible")
    return at * 1e6


def _delays(rows: list[TableRows], visible: list[npt.NDArray[np.float64] | None]) -> Delays:
    event = np.concatenate([t.event_us for t in rows]).astype(np.float64)
    kafka = np.concatenate([t.kafka_us for t in rows]).astype(np.float64)
    inserted = np.concatenate([t.inserted_us for t in rows]).astype(np.float64)
    seen = [v for v in visible if v is not None]
    shown = np.concatenate(seen) if seen and len(seen) == len(visible) else None
    return Delays(
        _quantiles_s(shown - event) if shown is not None else (),
        _quantiles_s(shown - kafka) if shown is not None else (),
        _quantiles_s(inserted - event),
        _quantiles_s(inserted - kafka),
    )


def _quantiles_s(delays_us: npt.NDArray[np.float64]) -> tuple[float, ...]:
    """Exact quantiles (numpy, linear between the two nearest rows) in seconds."""
    return tuple(float(q) / 1e6 for q in np.quantile(delays_us, QUANTILES))


def figures(result: Latency) -> list[Figure]:
    """Per rate: event → row and Kafka → row (visible; the p99 is the figure's value; the
    former ``inserted_at`` measure in the note), the achieved rate with the poll gap and the
    server's CPU, then one row per table."""
    label = f"{result.rate / 1000:g}k/s"
    goal = goals.E2E_P99_AT_10K_S if result.rate == GOAL_RATE else None
    d = result.delays
    watched = bool(d.event_to_row)
    head = "event → row visible" if watched else "event → INSERT start"
    per_table = [
        Figure(NAME, f"{head} @ {label}, {t.table}", _p99(t.delays), "s",
               display=_shown(t.delays.event_to_row or t.delays.event_to_insert),
               note=_table_note(t))
        for t in result.tables
    ]  # fmt: skip
    gap = result.poll_gap_s
    return [
        Figure(NAME, f"{head} @ {label}", _p99(d), "s", goal if watched else None,
               display=_shown(d.event_to_row or d.event_to_insert),
               note=f"to INSERT start {_shown(d.event_to_insert)}" if watched else "",
               extra=result.as_json()),
        Figure(NAME, f"{'Kafka → row visible' if watched else 'Kafka → INSERT start'} @ {label}",
               (d.kafka_to_row or d.kafka_to_insert)[-1], "s",
               display=_shown(d.kafka_to_row or d.kafka_to_insert),
               note=f"to INSERT start {_shown(d.kafka_to_insert)}" if watched else ""),
        Figure(NAME, f"achieved rate @ {label}", result.achieved_rate, "ticks/s",
               note=f"{result.rows:,} ticks measured"
                    + (f"; {result.polls:,} polls, gap median {gap[0] * 1000:.1f} ms,"
                       f" max {gap[1] * 1000:.0f} ms (visible ± half a gap)" if watched else "")
                    + ("" if result.server_cpu is None
                       else f"; ClickHouse {result.server_cpu:.1%} of a core")),
        *per_table,
    ]  # fmt: skip


def _p99(delays: Delays) -> float:
    return (delays.event_to_row or delays.event_to_insert)[-1]


def _table_note(t: TableLatency) -> str:
    d = t.delays
    kafka = f"Kafka → row {_shown(d.kafka_to_row)}; " if d.kafka_to_row else ""
    start = f"to INSERT start {_shown(d.event_to_insert)}; " if d.event_to_row else ""
    return f"{kafka}{start}{t.inserts_per_s:.1f} INSERT/s, {t.insert_mean_s * 1000:.0f} ms each"


def _first_event_us(ctx: BenchContext, market: str) -> int:
    """The first tick's event time (epoch µs): the warm-up counts from the simulator's start,
    not from the bench's (an ingest worker slow to start would move warm-up rows in)."""
    first = ctx.warehouse.client.query(FIRST_SQL.format(market=market)).result_rows[0][0]
    return int(first)


def _rows(ctx: BenchContext, table: str, name: str, since_us: int) -> TableRows:
    """The rows of ``table`` whose event time is at or after ``since_us``."""
    arrow = ctx.warehouse.client.query_arrow(
        ROWS_SQL.format(table=table), parameters={"since": since_us}
    )
    cols = [np.asarray(c.to_numpy(), dtype=np.int64) for c in arrow.columns]
    return TableRows(name, *cols)


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


def _named(values: tuple[float, ...]) -> dict[str, float]:
    return dict(zip(("p50", "p95", "p99"), values, strict=True))


def _shown(values: tuple[float, ...]) -> str:
    return (
        " · ".join(
            f"p{round(q * 100)} {v * 1000:,.0f}" for q, v in zip(QUANTILES, values, strict=True)
        )
        + " ms"
    )
