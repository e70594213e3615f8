"""The one typed catalog of tickwatch's Prometheus metrics, and the facades workers record through.

Every metric named in ``docs/CONTRACTS.md`` is a :class:`MetricDef` in
:mod:`tickwatch.telemetry.definitions` and appears in :data:`CATALOG` (re-exported here).
Worker code never touches prometheus_client: it builds a facade on a registry
(``IngestMetrics(registry)``, ``LoadMetrics(registry)``, ``MonitorMetrics(registry)``,
``ServiceMetrics(registry, service, version)``, ``TelemetryMetrics(registry)``) and calls domain
methods such as ``metrics.produced("simulator", "trade", 500)``. Each facade registers its
metrics on the registry it is given, so tests build a fresh ``CollectorRegistry()`` and read
values back with ``registry.get_sample_value(...)``. Every facade method is thread-safe and
never blocks on I/O.

Per-symbol labels: only :meth:`IngestMetrics.symbol_record` carries a ``symbol`` label, and only
while the worker has seen at most ``per_symbol_limit`` distinct symbols
(``telemetry.per_symbol_labels_max``, default 50). Past that the per-symbol series disappear as a
whole (never a misleading subset) and per-symbol freshness is read from ClickHouse by the
monitor instead.
"""

from __future__ import annotations

import threading
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

import tickwatch.telemetry.definitions as defs
from tickwatch.clock import SYSTEM_CLOCK, WallClock
from tickwatch.telemetry.collectors import BulkHistogram, Floats, LastSeenCollector
from tickwatch.telemetry.definitions import CATALOG, CHECK_STATUS_CODES, Kind, MetricDef

__all__ = [
    "CATALOG",
    "IngestMetrics",
    "Kind",
    "LoadMetrics",
    "MetricDef",
    "MonitorMetrics",
    "ServiceMetrics",
    "TelemetryMetrics",
]


def counter(defn: MetricDef, registry: CollectorRegistry) -> Counter:
    """Register ``defn`` as a prometheus_client Counter on ``registry``."""
    return Counter(defn.name, defn.help, defn.labels, registry=registry)


def gauge(defn: MetricDef, registry: CollectorRegistry) -> Gauge:
    """Register ``defn`` as a prometheus_client Gauge on ``registry``."""
    return Gauge(defn.name, defn.help, defn.labels, registry=registry)


def histogram(defn: MetricDef, registry: CollectorRegistry) -> Histogram:
    """Register ``defn`` as a prometheus_client Histogram on ``registry``."""
    return Histogram(defn.name, defn.help, defn.labels, registry=registry, buckets=defn.buckets)


def bulk_histogram(defn: MetricDef, registry: CollectorRegistry) -> BulkHistogram:
    """Register ``defn`` as a :class:`BulkHistogram` (array observations) on ``registry``."""
    collector = BulkHistogram(defn.name, defn.help, defn.labels, defn.buckets)
    registry.register(collector)
    return collector


def last_seen(
    defn: MetricDef, registry: CollectorRegistry, clock: WallClock, limit: int | None = None
) -> LastSeenCollector:
    """Register ``defn`` as a scrape-time "seconds since" gauge on ``registry``."""
    collector = LastSeenCollector(defn.name, defn.help, defn.labels[0], clock, limit)
    registry.register(collector)
    return collector


class IngestMetrics:
    """What the ingest worker and its sources record."""

    def __init__(
        self,
        registry: CollectorRegistry,
        per_symbol_limit: int = 50,
        clock: WallClock = SYSTEM_CLOCK,
    ) -> None:
        self._records = counter(defs.INGEST_RECORDS, registry)
        self._produce_errors = counter(defs.INGEST_PRODUCE_ERRORS, registry)
        self._delivery = histogram(defs.INGEST_DELIVERY_LATENCY, registry)
        self._queue_depth = gauge(defs.INGEST_QUEUE_DEPTH, registry)
        self._messages = counter(defs.SOURCE_MESSAGES, registry)
        self._dropped = counter(defs.SOURCE_DROPPED, registry)
        self._reconnects = counter(defs.SOURCE_RECONNECTS, registry)
        self._auth_failures = counter(defs.SOURCE_AUTH_FAILURES, registry)
        self._source_seen = last_seen(defs.SOURCE_SECONDS_SINCE_LAST, registry, clock)
        self._symbol_seen = last_seen(
            defs.SYMBOL_SECONDS_SINCE_LAST, registry, clock, per_symbol_limit
        )
        self._symbol_records = _LimitedCounter(defs.SYMBOL_RECORDS, registry, per_symbol_limit)
        self._polls = counter(defs.SOURCE_POLLS, registry)
        self._poll_errors = counter(defs.SOURCE_POLL_ERRORS, registry)
        self._repeats = counter(defs.SOURCE_REPEATS_SKIPPED, registry)
        self._held = gauge(defs.INGEST_HELD_RECORDS, registry)

    def produced(self, source: str, record_type: str, n: int = 1) -> None:
        """``n`` records of ``record_type`` (trade/quote/bar) were handed to the producer."""
        self._records.labels(source, record_type).inc(n)

    def produce_error(self, source: str, reason: str) -> None:
        """A produce call or delivery report failed; ``reason`` is a short error code."""
        self._produce_errors.labels(source, reason).inc()

    def delivery_latency(self, seconds: float) -> None:
        """One delivery report arrived ``seconds`` after its produce() call."""
        self._delivery.observe(seconds)

    def queue_depth(self, n: int) -> None:
        """The producer's local queue currently holds ``n`` messages."""
        self._queue_depth.set(n)

    def held_records(self, n: int) -> None:
        """The low-rate hold keeps ``n`` records not yet handed to the producer."""
        self._held.set(n)

    def source_message(self, source: str, n: int = 1) -> None:
        """``n`` messages arrived from ``source`` (before parsing)."""
        self._messages.labels(source).inc(n)

    def source_dropped(self, source: str, reason: str, n: int = 1) -> None:
        """``n`` source messages were discarded for ``reason``."""
        self._dropped.labels(source, reason).inc(n)

    def source_reconnect(self, source: str) -> None:
        """``source`` reconnected."""
        self._reconnects.labels(source).inc()

    def source_auth_failure(self, source: str) -> None:
        """``source`` rejected our credentials."""
        self._auth_failures.labels(source).inc()

    def source_poll(self, source: str, outcome: str) -> None:
        """A polling source finished one poll with ``outcome`` (ok, partial, failed)."""
        self._polls.labels(source, outcome).inc()

    def source_poll_error(self, source: str, reason: str) -> None:
        """One request of a polling source failed for ``reason``."""
        self._poll_errors.labels(source, reason).inc()

    def source_repeats_skipped(self, source: str, record_type: str, n: int = 1) -> None:
        """A polling source got ``n`` records of ``record_type`` again and skipped them."""
        self._repeats.labels(source, record_type).inc(n)

    def source_record_seen(self, source: str, when: float) -> None:
        """``source`` produced a record at ``when`` (epoch seconds, our clock).

        Feeds ``tickwatch_source_seconds_since_last_record``, computed at scrape time.
        """
        self._source_seen.seen(source, when)

    def symbol_record(self, symbol: str, when: float, n: int = 1) -> None:
        """``n`` records of ``symbol`` arrived at ``when``; per-symbol series obey the limit."""
        self._symbol_seen.seen(symbol, when)
        self._symbol_records.inc(symbol, n)


class LoadMetrics:
    """What the load worker records."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._consumed = counter(defs.LOAD_CONSUMED, registry)
        self._inserted = counter(defs.LOAD_ROWS_INSERTED, registry)
        self._dead_letters = counter(defs.LOAD_DEAD_LETTERS, registry)
        self._batch_rows = histogram(defs.LOAD_BATCH_ROWS, registry)
        self._insert_seconds = histogram(defs.LOAD_INSERT_DURATION, registry)
        self._event_to_insert = bulk_histogram(defs.LOAD_EVENT_TO_INSERT, registry)
        self._kafka_to_insert = bulk_histogram(defs.LOAD_KAFKA_TO_INSERT, registry)
        self._lag = gauge(defs.LOAD_CONSUMER_LAG, registry)
        self._lag_seconds = gauge(defs.LOAD_CONSUMER_LAG_SECONDS, registry)
        # per partition, its two lag series: set after every poll, a label lookup each cost
        # more than the rest of the lag report (the series are never removed)
        self._lag_series: dict[tuple[str, int], tuple[Gauge, Gauge]] = {}
        self._commit_failures = counter(defs.LOAD_COMMIT_FAILURES, registry)
        self._retries = counter(defs.LOAD_CLICKHOUSE_RETRIES, registry)
        self._paused = gauge(defs.LOAD_PAUSED_PARTITIONS, registry)
        self._rejected = counter(defs.LOAD_INSERTS_REJECTED, registry)
        self._dlq_errors = counter(defs.LOAD_DLQ_ERRORS, registry)
        self._dlq_truncated = counter(defs.LOAD_DLQ_TRUNCATED, registry)
        self._deferred = counter(defs.LOAD_FLUSH_DEFERRED, registry)
        self._offset_resets = counter(defs.LOAD_OFFSET_RESETS, registry)
        self._offset_gaps = counter(defs.LOAD_OFFSET_GAPS, registry)
        self._side_read = counter(defs.LOAD_SIDE_READ, registry)

    def records_consumed(self, topic: str, n: int) -> None:
        """``n`` messages were polled from ``topic``."""
        self._consumed.labels(topic).inc(n)

    def side_read(self, topic: str, outcome: str, n: int) -> None:
        """``n`` messages of ``topic`` were re-read for another owner's member of a recorded
        group (``outcome`` ``row`` or ``dead_letter``): kept out of :meth:`records_consumed`
        and :meth:`dead_letter`, which their owner counts."""
        self._side_read.labels(topic, outcome).inc(n)

    def rows_inserted(self, table: str, n: int) -> None:
        """``n`` rows were committed to ClickHouse ``table`` (counter only)."""
        self._inserted.labels(table).inc(n)

    def dead_letter(self, reason: str, n: int = 1) -> None:
        """``n`` messages went to the dead-letter queue for ``reason``."""
        self._dead_letters.labels(reason).inc(n)

    def batch_inserted(self, table: str, rows: int, seconds: float) -> None:
        """One insert of ``rows`` rows took ``seconds``: the two histograms only.

        Does not touch ``rows_inserted``; the worker calls both.
        """
        self._batch_rows.labels(table).observe(rows)
        self._insert_seconds.labels(table).observe(seconds)

    def end_to_end(
        self,
        record_type: str,
        event_to_insert_s: Floats,
        kafka_to_insert_s: Floats,
    ) -> None:
        """Per-row latencies of one inserted batch (lists or numpy arrays).

        Every value is counted exactly, none is sampled: the arrays are bucketed with vectorised
        numpy comparisons (:class:`BulkHistogram`): about 0.5 ms per 50k-value array instead
        of ~50 ms for 50k ``Histogram.observe`` calls. Pass numpy arrays when you have them.
        """
        self._event_to_insert.observe_many((record_type,), event_to_insert_s)
        self._kafka_to_insert.observe_many((record_type,), kafka_to_insert_s)

    def consumer_lag(self, topic: str, partition: int, offsets: int, seconds: float) -> None:
        """Latest lag of one partition, in offsets and in seconds."""
        series = self._lag_series.get((topic, partition))
        if series is None:
            labels = (topic, str(partition))
            series = self._lag.labels(*labels), self._lag_seconds.labels(*labels)
            self._lag_series[(topic, partition)] = series
        series[0].set(offsets)
        series[1].set(seconds)

    def commit_failure(self) -> None:
        """An offset commit failed."""
        self._commit_failures.inc()

    def clickhouse_retry(self) -> None:
        """An insert is being retried."""
        self._retries.inc()

    def paused_partitions(self, n: int) -> None:
        """``n`` partitions are currently paused for backpressure."""
        self._paused.set(n)

    def insert_rejected(self, reason: str) -> None:
        """ClickHouse rejected an insert for its rows (``clickhouse_<error name>``)."""
        self._rejected.labels(reason).inc()

    def dlq_error(self, kind: str) -> None:
        """A dead letter could not be produced or delivered (``kind``: produce, delivery)."""
        self._dlq_errors.labels(kind).inc()

    def dlq_truncated(self) -> None:
        """A dead letter was too large and was stored truncated."""
        self._dlq_truncated.inc()

    def flush_deferred(self) -> None:
        """A poll loop stopped inserting at its time budget."""
        self._deferred.inc()

    def offset_reset(self, topic: str) -> None:
        """The consumer's position in a partition of ``topic`` was reset."""
        self._offset_resets.labels(topic).inc()

    def offset_gap(self, topic: str, reason: str) -> None:
        """A partition of ``topic`` skipped offsets for ``reason`` (no reset)."""
        self._offset_gaps.labels(topic, reason).inc()


class MonitorMetrics:
    """What the downtime detector and the alerting records."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._runs = counter(defs.MONITOR_CHECK_RUNS, registry)
        self._status = gauge(defs.MONITOR_CHECK_STATUS, registry)
        self._duration = histogram(defs.MONITOR_CHECK_DURATION, registry)
        self._alerts_open = gauge(defs.ALERTS_OPEN, registry)
        self._notifications = counter(defs.ALERT_NOTIFICATIONS, registry)
        self._outbox = gauge(defs.ALERT_OUTBOX_PENDING, registry)
        self._quarantined = counter(defs.ALERT_QUARANTINED, registry)
        self._inhibited = counter(defs.ALERT_INHIBITED, registry)

    def check_run(self, check: str, target: str, status: str, seconds: float) -> None:
        """``check`` ran against ``target`` in ``seconds`` with ``status`` (OK/WARN/CRIT/UNKNOWN).

        The status label is upper-cased; unrecognised statuses count as UNKNOWN.
        """
        name = status.upper() if status.upper() in CHECK_STATUS_CODES else "UNKNOWN"
        self._runs.labels(check, name).inc()
        self._status.labels(check, target).set(CHECK_STATUS_CODES[name])
        self._duration.labels(check).observe(seconds)

    def alerts_open(self, severity: str, n: int) -> None:
        """``n`` alerts of ``severity`` are open."""
        self._alerts_open.labels(severity).set(n)

    def notification(self, status: str) -> None:
        """A notification attempt ended with ``status`` (sent/failed/suppressed...)."""
        self._notifications.labels(status).inc()

    def outbox_pending(self, n: int) -> None:
        """``n`` notifications wait in the outbox."""
        self._outbox.set(n)

    def notification_quarantined(self) -> None:
        """A notification that can never be sent was taken out of the outbox."""
        self._quarantined.inc()

    def alert_inhibited(self, check: str) -> None:
        """An event of ``check`` was held back by a failing (or just recovered) dependency."""
        self._inhibited.labels(check).inc()


class ServiceMetrics:
    """What every worker exposes: build info, the heartbeat timestamp, process CPU and memory.

    Registers prometheus_client's ProcessCollector (``process_cpu_seconds_total``,
    ``process_resident_memory_bytes``... read from /proc at scrape time; empty elsewhere).
    """

    def __init__(self, registry: CollectorRegistry, service: str, version: str = "") -> None:
        self._service = service
        ProcessCollector(registry=registry)
        version = version or package_version()
        self._heartbeat = gauge(defs.HEARTBEAT_TIMESTAMP, registry)
        gauge(defs.BUILD_INFO, registry).labels(version, service).set(1)

    def heartbeat(self, when: float) -> None:
        """The worker was alive at ``when`` (epoch seconds)."""
        self._heartbeat.labels(self._service).set(when)


def package_version() -> str:
    """The installed tickwatch distribution's version, or "0+unknown" when running from a tree."""
    try:
        return metadata.version("tickwatch")
    except metadata.PackageNotFoundError:
        return "0+unknown"


SIGNALS = ("traces", "logs", "metrics", "heartbeats")


class TelemetryMetrics:
    """Counts of telemetry items exported to and dropped on the way to ClickHouse."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._exported = counter(defs.TELEMETRY_EXPORTED, registry)
        self._dropped = counter(defs.TELEMETRY_DROPPED, registry)
        for signal in SIGNALS:  # expose zeros so rate() works from the first scrape
            self._exported.labels(signal)
            self._dropped.labels(signal)

    def exported(self, signal: str, n: int = 1) -> None:
        """``n`` items of ``signal`` were written to ClickHouse."""
        self._exported.labels(signal).inc(n)

    def dropped(self, signal: str, n: int = 1) -> None:
        """``n`` items of ``signal`` were discarded (queue full, backlog full, bad rows)."""
        self._dropped.labels(signal).inc(n)


class _LimitedCounter:
    """A one-label counter that exposes its series only while distinct values <= ``limit``."""

    def __init__(self, defn: MetricDef, registry: CollectorRegistry, limit: int) -> None:
        self._counter = counter(defn, registry)
        self._limit = limit
        self._values: set[str] = set()
        self._overflowed = False
        self._lock = threading.Lock()

    def inc(self, value: str, n: int) -> None:
        with self._lock:
            self._inc(value, n)

    def _inc(self, value: str, n: int) -> None:
        if self._overflowed:
            return
        if value not in self._values:
            self._values.add(value)
            if len(self._values) > self._limit:
                self._overflowed = True
                self._counter.clear()
                self._values.clear()
                return
        self._counter.labels(value).inc(n)
