"""Scenario 4: end-to-end latency at fixed rates, event → row (the load worker's INSERT returned).

For each rate: a fresh topic set and databases, one load worker (waited for until it has its
partitions), then the simulator ingest worker at that rate for warm-up + window seconds. The
goals are judged on the load worker's own per-row histograms
``tickwatch_load_event_to_insert_seconds`` / ``tickwatch_load_kafka_to_insert_seconds`` (per
``type``; every inserted row counted, stamped right after its INSERT returned, i.e. the rows
are committed and queryable): its ``/metrics`` is scraped when the warm-up ends (counted from
the first row it inserted) and when ClickHouse holds every produced record, and the per-bucket
differences count exactly the rows whose INSERT returned between the two scrapes. From them
(:mod:`bench.histogram`): the exact share of rows at or below each goal threshold (the
thresholds are bucket bounds) with the verdict, and p50/p95/p99 interpolated within their
bucket, trades and quotes together and per type (bars left out: :data:`TYPES`). No extra
work for the server.

Beside them, from the rows themselves (each tick whose event time falls after the warm-up,
counted from the first tick's event time): the exact quantiles to the row's ``inserted_at``
(stamped when the load worker *starts* the INSERT); per table the INSERT queries per second and
their mean duration over the whole run; and the ClickHouse server's CPU over the run when the
bench started the server. With ``--latency-poll-ms`` above 0 (off by default) a
:class:`~bench.visibility.PartWatcher` also polls the tables' parts and gives each row its
*visible time* (:meth:`~bench.visibility.VisibilityLog.visible_at`: within ± half a poll gap),
a cross-check only: on 2 cores the watcher costs the server 15 to 30 % of a core and slows the
pipeline it measures (bench/README).
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
from bench import histogram as hist
from bench.context import BenchContext
from bench.deadline import Deadline
from bench.errors import BenchError
from bench.figures import Figure
from bench.histogram import Buckets
from bench.live import ingest_worker, start_load, wait_drained
from bench.scenarios.idle import cpu_ticks
from bench.visibility import PartWatcher, VisibilityLog
from bench.worker import WorkerProcess
from tickwatch.clients import clickhouse_client
from tickwatch.settings import ClickHouseSettings

NAME = "latency"
QUANTILES = (0.5, 0.95, 0.99)
EXIT_GRACE_S = 30.0
TABLES = ("trades", "quotes")
# The record types of TABLES in the load worker's histograms. Bars are left out: a bar's event
# time is the start of the interval it sums up, so its delay is that interval, not the pipeline's.
TYPES = ("trade", "quote")
CLOCK_TICKS_PER_S = 100  # sysconf(SC_CLK_TCK) on Linux
THRESHOLDS_S = tuple(sorted({g.bound_s for g in goals.LATENCY_BY_RATE.values()}))

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
EVENT_TO_INSERT = "tickwatch_load_event_to_insert_seconds"  # per row, after its INSERT returned
KAFKA_TO_INSERT = "tickwatch_load_kafka_to_insert_seconds"
METRICS_TIMEOUT_S = 5.0
COUNTED_TIMEOUT_S = 5.0
COUNTED_POLL_S = 0.05
FIRST_ROW_POLL_S = 0.1


@dataclass(frozen=True)
class Spread:
    """One histogram's window: ``rows`` counted, the exact share at or below each of
    :data:`THRESHOLDS_S`, and the :data:`QUANTILES` interpolated within their bucket
    (``(value, (lower, upper))``)."""

    rows: int
    shares: tuple[float, ...]
    quantiles: tuple[tuple[float, tuple[float, float]], ...]

    @classmethod
    def of(cls, b: Buckets) -> Spread:
        return cls(
            b.total,
            tuple(hist.share_at_or_below(b, t) for t in THRESHOLDS_S),
            tuple(hist.quantile(b, q) for q in QUANTILES),
        )

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(v for v, _ in self.quantiles)

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "share_at_or_below": {f"{t:g}": round(s, 6)
                                  for t, s in zip(THRESHOLDS_S, self.shares, strict=True)},
            **{name: {"value": round(v, 4), "within": [lo, hi]}
               for name, (v, (lo, hi)) in zip(("p50", "p95", "p99"), self.quantiles, strict=True)},
        }  # fmt: skip


@dataclass(frozen=True)
class Returned:
    """Event → and Kafka → INSERT returned over the window, per record ``type`` (from the load
    worker's histograms: the rows whose INSERT returned between the two scrapes)."""

    event: dict[str, Buckets]
    kafka: dict[str, Buckets]

    @classmethod
    def between(cls, before: str, after: str) -> Returned:
        """The per-bucket differences of two ``/metrics`` expositions, for :data:`TYPES`.
        Raises BenchError when no such row was inserted in between."""
        event, kafka = (
            {t: b for t, b in hist.deltas(hist.parse(after, name, "type"),
                                          hist.parse(before, name, "type")).items()
             if t in TYPES}
            for name in (EVENT_TO_INSERT, KAFKA_TO_INSERT)
        )  # fmt: skip
        if not event:
            raise BenchError(f"no {EVENT_TO_INSERT} observations between the two scrapes")
        return cls(event, kafka)

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self.event)

    def overall(self) -> tuple[Spread, Spread | None]:
        """Event → and Kafka → row over all types together."""
        kafka = Spread.of(hist.merged(self.kafka.values())) if self.kafka else None
        return Spread.of(hist.merged(self.event.values())), kafka

    def per_type(self) -> dict[str, tuple[Spread, Spread | None]]:
        return {
            t: (Spread.of(b), Spread.of(self.kafka[t]) if t in self.kafka else None)
            for t, b in self.event.items()
        }

    def as_json(self) -> dict[str, Any]:
        event, kafka = self.overall()
        out: dict[str, Any] = {"types": list(self.types), "event_to_row": event.as_json()}
        if kafka is not None:
            out["kafka_to_row"] = kafka.as_json()
        out["per_type"] = {
            t: {"event_to_row": e.as_json()} | ({"kafka_to_row": k.as_json()} if k else {})
            for t, (e, k) in self.per_type().items()
        }
        return out


@dataclass(frozen=True)
class Delays:
    """Exact quantiles (seconds) of one set of rows: event → visible and Kafka → visible (empty
    without a watcher), and to the INSERT's start (``inserted_at``)."""

    event_to_visible: tuple[float, ...]
    kafka_to_visible: tuple[float, ...]
    event_to_insert: tuple[float, ...]
    kafka_to_insert: tuple[float, ...]

    def as_json(self) -> dict[str, Any]:
        names = (
            "event_to_visible_s", "kafka_to_visible_s",
            "event_to_insert_start_s", "kafka_to_insert_start_s",
        )  # fmt: skip
        values = (
            self.event_to_visible, self.kafka_to_visible,
            self.event_to_insert, self.kafka_to_insert,
        )  # fmt: skip
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
    """``returned``: the load worker's histograms over the window (the goals' figure); the
    delays over ``rows`` ticks spanning ``span_s`` of event time; ``poll_gap_s``: median and
    largest gap between the watcher's polls (0 without one); ``server_cpu``: the ClickHouse
    server's share of one core over the run (None when the bench did not start it)."""

    rate: int
    returned: Returned
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
            "insert_returned": self.returned.as_json(),
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
    """One rate: start load (and the watcher if asked), run ingest for warm-up + window with a
    scrape of the load worker's ``/metrics`` at the warm-up's end, wait for the rows, scrape
    again, query the rows."""
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
        _first_row(load, ing, rate, deadline)
        code = ing.wait(min(warmup, deadline.remaining()))
        if code is not None:
            raise ing.failure(f"at {rate}/s ended during the warm-up with code {code}")
        before = _scrape(load)
        code = ing.wait(min(window + EXIT_GRACE_S, deadline.remaining()))
        if code != 0:
            raise ing.failure(f"at {rate}/s ended with code {code} (None: still running)")
        after = _scrape_counted(load, wait_drained(ctx, topics, databases, deadline))
        seconds = time.monotonic() - started
        cpu = (cpu_ticks(pid) - ticks) / CLOCK_TICKS_PER_S / seconds if pid else None
    if watcher is not None:  # every row is in: one last poll, on this thread once stopped
        watcher.stop()
        watcher.poll()
    since_us = _first_event_us(ctx, databases.market) + int(warmup * 1e6)
    rows = [_rows(ctx, f"{databases.market}.{t}", t, since_us) for t in TABLES]
    ctx.warehouse.drop(databases)
    returned = Returned.between(before, after)
    inserts = _insert_stats(after, seconds)
    log = watcher.log if watcher else None
    return summarize(rate, returned, rows, log=log, inserts=inserts, server_cpu=cpu)


def _watcher(ctx: BenchContext, market: str) -> PartWatcher | None:
    """The part watcher on its own client, started; None with ``--latency-poll-ms 0``."""
    period_s = ctx.options.latency_poll_ms / 1000
    if period_s <= 0:
        return None
    client = clickhouse_client(ClickHouseSettings(), ctx.warehouse.url)
    return PartWatcher(client, market, TABLES, period_s).start()


def summarize(
    rate: int,
    returned: Returned,
    rows: list[TableRows],
    *,
    log: VisibilityLog | None,
    inserts: dict[str, tuple[float, float]],
    server_cpu: float | None = None,
) -> Latency:
    """The window's histograms and the rows' delays over all tables and per table. ``log``
    None: no watcher, no visible times. Raises BenchError when there are no rows, or when rows
    were never seen visible (the watcher's last poll comes after every row is in)."""
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
        rate, returned, total, _delays(rows, visible),
        float(events.max() - events.min()) / 1e6, tables,
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
    """Per rate: event → row and Kafka → row (INSERT returned; interpolated p99 is the value),
    the share at the rate's goal threshold with the verdict, one row per record type; the
    exact to-INSERT-start quantiles (and the visible ones with a watcher); the achieved rate;
    one row per table."""
    label = f"{result.rate / 1000:g}k/s"
    event, kafka = result.returned.overall()
    types = ", ".join(result.returned.types)
    out = [
        Figure(NAME, f"event → row @ {label}", event.values[-1], "s",
               display=_interpolated(event), extra=result.as_json(),
               note=f"{_shares(event)}; {event.rows:,} rows ({types}) whose INSERT returned"
                    " in the window"),
    ]  # fmt: skip
    goal = goals.LATENCY_BY_RATE.get(result.rate)
    if goal is not None:
        share = event.shares[THRESHOLDS_S.index(goal.bound_s)]
        out.append(
            Figure(NAME, f"rows ≤ {goal.bound_s * 1000:g} ms @ {label}", share, "share", goal,
                   display=f"{share:.2%} (exact: the bound is a bucket bound)")
        )  # fmt: skip
    if kafka is not None:
        out.append(
            Figure(NAME, f"Kafka → row @ {label}", kafka.values[-1], "s",
                   display=_interpolated(kafka), note=_shares(kafka))
        )  # fmt: skip
    for name, (e, k) in result.returned.per_type().items():
        kafka_note = f"; Kafka → row {_interpolated(k)}" if k else ""
        out.append(
            Figure(NAME, f"event → row @ {label}, {name}", e.values[-1], "s",
                   display=_interpolated(e), note=f"{_shares(e)}; {e.rows:,} rows{kafka_note}")
        )  # fmt: skip
    return out + _row_figures(result, label)


def _row_figures(result: Latency, label: str) -> list[Figure]:
    """The figures from the rows themselves: to INSERT start (exact), visible (with a
    watcher), the achieved rate, per table."""
    d, gap = result.delays, result.poll_gap_s
    watched = bool(d.event_to_visible)
    out = [
        Figure(NAME, f"event → INSERT start @ {label}", d.event_to_insert[-1], "s",
               display=_shown(d.event_to_insert),
               note=f"exact, {result.rows:,} rows; Kafka → INSERT start "
                    f"{_shown(d.kafka_to_insert)}"),
    ]  # fmt: skip
    if watched:
        out.append(
            Figure(NAME, f"event → row visible @ {label} (watcher)", d.event_to_visible[-1], "s",
                   display=_shown(d.event_to_visible),
                   note=f"Kafka → row visible {_shown(d.kafka_to_visible)}; {result.polls:,} "
                        f"polls, gap median {gap[0] * 1000:.1f} ms, max {gap[1] * 1000:.0f} ms"
                        " (± half a gap); the watcher slows what it measures")
        )  # fmt: skip
    out.append(
        Figure(NAME, f"achieved rate @ {label}", result.achieved_rate, "ticks/s",
               note=f"{result.rows:,} ticks measured"
                    + ("" if result.server_cpu is None
                       else f"; ClickHouse {result.server_cpu:.1%} of a core"))
    )  # fmt: skip
    out.extend(
        Figure(NAME, f"event → INSERT start @ {label}, {t.table}", t.delays.event_to_insert[-1],
               "s", display=_shown(t.delays.event_to_insert), note=_table_note(t))
        for t in result.tables
    )  # fmt: skip
    return out


def _table_note(t: TableLatency) -> str:
    d = t.delays
    seen = f"visible {_shown(d.event_to_visible)}; " if d.event_to_visible else ""
    return (
        f"Kafka → INSERT start {_shown(d.kafka_to_insert)}; {seen}"
        f"{t.inserts_per_s:.1f} INSERT/s, {t.insert_mean_s * 1000:.0f} ms each"
    )


def _interpolated(s: Spread) -> str:
    """``p50 X · p95 Y · p99 Z ms, interpolated within [a, b] · … ms`` (each one's bucket)."""
    within = " · ".join(f"[{lo * 1000:g}, {hi * 1000:g}]" for _, (lo, hi) in s.quantiles)
    return f"{_shown(s.values)}, interpolated within {within} ms"


def _shares(s: Spread) -> str:
    return "rows " + " · ".join(
        f"≤ {t * 1000:g} ms {v:.2%}" for t, v in zip(THRESHOLDS_S, s.shares, strict=True)
    )


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


def _scrape(load: WorkerProcess) -> str:
    """The load worker's ``/metrics`` exposition."""
    url = f"http://127.0.0.1:{load.env['TICKWATCH_LOAD_METRICS_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=METRICS_TIMEOUT_S) as response:
        text: str = response.read().decode()
    return text


def _first_row(load: WorkerProcess, ing: WorkerProcess, rate: int, deadline: Deadline) -> None:
    """Wait until the load worker has inserted its first row (its histogram counts one), so
    the warm-up counts from about the first tick, as the rows' figures do, not from the ingest
    worker's start (a second or more on this machine). Raises what the deadline raises, or
    the ingest worker's failure when it ends first."""
    while not _counted(_scrape(load)):
        code = ing.wait(FIRST_ROW_POLL_S)
        if code is not None:
            raise ing.failure(f"at {rate}/s ended before a row was inserted, code {code}")
        deadline.check(f"waiting for the first inserted row at {rate}/s")


def _counted(exposition: str) -> int:
    """All rows the load worker's event → INSERT histogram has counted, every type."""
    return sum(b.total for b in hist.parse(exposition, EVENT_TO_INSERT, "type").values())


def _scrape_counted(load: WorkerProcess, rows: int) -> str:
    """The load worker's exposition once its histogram counts ``rows`` rows (what the tables
    hold): it records a moment after the INSERT returned, so a scrape right after the rows are
    in could miss the last batch. Raises BenchError after :data:`COUNTED_TIMEOUT_S`."""
    limit = time.monotonic() + COUNTED_TIMEOUT_S
    while True:
        text = _scrape(load)
        counted = _counted(text)
        if counted >= rows:
            return text
        if time.monotonic() >= limit:
            raise BenchError(
                f"the load worker's {EVENT_TO_INSERT} counts {counted:,} of the {rows:,} rows"
                f" in ClickHouse after {COUNTED_TIMEOUT_S:g} s"
            )
        time.sleep(COUNTED_POLL_S)


def _insert_stats(exposition: str, seconds: float) -> dict[str, tuple[float, float]]:
    """Per table: the load worker's INSERT queries per second over ``seconds`` and their mean
    duration, from its ``/metrics``."""
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
