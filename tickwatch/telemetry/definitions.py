"""Every metric tickwatch exposes, as typed data: name, type, labels, help, unit, buckets.

:data:`CATALOG` lists them all (those in ``docs/CONTRACTS.md`` plus the two per-symbol series);
names follow Prometheus conventions (``tickwatch_`` prefix, ``_total`` on counters, base units).
:mod:`tickwatch.telemetry.catalog` builds the prometheus_client objects and the facades from
these definitions; nothing else names a metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Prometheus metric type."""

    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class MetricDef:
    """One metric: its full exposition name (with ``_total`` for counters), type, labels, help.

    ``unit`` is the base unit the name ends with ("seconds", "bytes") or "" for counts.
    ``provided_by`` names the library that registers it when tickwatch only documents it.
    """

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    unit: str = ""
    buckets: tuple[float, ...] = ()
    provided_by: str = ""


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Bounds at issue 14's thresholds (0.12, 0.25, 1 s) and finer where the goals are: the bench reads
# the exact share of rows at or below each threshold from these buckets (bench/histogram.py).
END_TO_END_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
    1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip
BATCH_ROW_BUCKETS = (1, 10, 100, 500, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 500_000)
CHECK_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

C, G, H = Kind.COUNTER, Kind.GAUGE, Kind.HISTOGRAM

# --- ingest -----------------------------------------------------------------------------------
INGEST_RECORDS = MetricDef(
    "tickwatch_ingest_records_total", C, "Records produced to Kafka.", ("source", "type")
)
INGEST_PRODUCE_ERRORS = MetricDef(
    "tickwatch_ingest_produce_errors_total", C, "Produce failures.", ("source", "reason")
)
INGEST_DELIVERY_LATENCY = MetricDef(
    "tickwatch_ingest_delivery_latency_seconds", H,
    "Time from produce() to the broker's delivery report.", unit="seconds",
    buckets=LATENCY_BUCKETS,
)  # fmt: skip
INGEST_QUEUE_DEPTH = MetricDef(
    "tickwatch_ingest_producer_queue_depth", G, "Messages waiting in the producer's queue."
)
SOURCE_MESSAGES = MetricDef(
    "tickwatch_source_messages_total", C, "Messages received from a source.", ("source",)
)
SOURCE_DROPPED = MetricDef(
    "tickwatch_source_dropped_total", C, "Source messages dropped.", ("source", "reason")
)
SOURCE_RECONNECTS = MetricDef(
    "tickwatch_source_reconnects_total", C, "Source reconnections.", ("source",)
)
SOURCE_AUTH_FAILURES = MetricDef(
    "tickwatch_source_auth_failures_total", C, "Source authentication failures.", ("source",)
)
SOURCE_SECONDS_SINCE_LAST = MetricDef(
    "tickwatch_source_seconds_since_last_record", G,
    "Seconds since the source produced its last record (computed at scrape time).",
    ("source",),
)  # fmt: skip
SYMBOL_RECORDS = MetricDef(
    "tickwatch_ingest_symbol_records_total", C,
    "Records per symbol; exposed only while symbols <= telemetry.per_symbol_labels_max.",
    ("symbol",),
)  # fmt: skip
SYMBOL_SECONDS_SINCE_LAST = MetricDef(
    "tickwatch_symbol_seconds_since_last_record", G,
    "Seconds since a symbol's last record (scrape time); only while symbols <= the limit.",
    ("symbol",),
)  # fmt: skip

# --- load -------------------------------------------------------------------------------------
LOAD_CONSUMED = MetricDef(
    "tickwatch_load_records_consumed_total", C, "Kafka messages consumed.", ("topic",)
)
LOAD_ROWS_INSERTED = MetricDef(
    "tickwatch_load_rows_inserted_total", C, "Rows inserted into ClickHouse.", ("table",)
)
LOAD_DEAD_LETTERS = MetricDef(
    "tickwatch_load_dead_letters_total", C, "Messages sent to the dead-letter queue.", ("reason",)
)
LOAD_BATCH_ROWS = MetricDef(
    "tickwatch_load_batch_rows", H, "Rows per ClickHouse insert.", ("table",),
    buckets=BATCH_ROW_BUCKETS,
)  # fmt: skip
LOAD_INSERT_DURATION = MetricDef(
    "tickwatch_load_insert_duration_seconds", H, "ClickHouse insert duration.", ("table",),
    unit="seconds", buckets=(*LATENCY_BUCKETS, 30.0),
)  # fmt: skip
LOAD_EVENT_TO_INSERT = MetricDef(
    "tickwatch_load_event_to_insert_seconds", H,
    "Exchange event time to ClickHouse insert, per row.", ("type",), unit="seconds",
    buckets=END_TO_END_BUCKETS,
)  # fmt: skip
LOAD_KAFKA_TO_INSERT = MetricDef(
    "tickwatch_load_kafka_to_insert_seconds", H,
    "Kafka message timestamp to ClickHouse insert, per row.", ("type",), unit="seconds",
    buckets=END_TO_END_BUCKETS,
)  # fmt: skip
LOAD_CONSUMER_LAG = MetricDef(
    "tickwatch_load_consumer_lag", G, "Consumer lag in offsets.", ("topic", "partition")
)
LOAD_CONSUMER_LAG_SECONDS = MetricDef(
    "tickwatch_load_consumer_lag_seconds", G, "Consumer lag in seconds.",
    ("topic", "partition"), unit="seconds",
)  # fmt: skip
LOAD_COMMIT_FAILURES = MetricDef(
    "tickwatch_load_commit_failures_total", C, "Offset commit failures."
)
LOAD_CLICKHOUSE_RETRIES = MetricDef(
    "tickwatch_load_clickhouse_retries_total", C, "Retried ClickHouse inserts."
)
LOAD_PAUSED_PARTITIONS = MetricDef(
    "tickwatch_load_paused_partitions", G, "Partitions paused for backpressure."
)
LOAD_INSERTS_REJECTED = MetricDef(
    "tickwatch_load_inserts_rejected_total",
    C,
    "Inserts ClickHouse rejected for their rows (each starts a bisection).",
    ("reason",),
)
LOAD_DLQ_ERRORS = MetricDef(
    "tickwatch_load_dlq_errors_total",
    C,
    "Dead-letter produce or delivery failures (the worker carries on).",
    ("kind",),
)
LOAD_DLQ_TRUNCATED = MetricDef(
    "tickwatch_load_dlq_truncated_total", C, "Dead letters stored truncated (too large)."
)
LOAD_FLUSH_DEFERRED = MetricDef(
    "tickwatch_load_flush_deferred_total",
    C,
    "Poll loops whose inserts stopped at the flush budget (partitions stay paused).",
)
LOAD_OFFSET_RESETS = MetricDef(
    "tickwatch_load_offset_resets_total",
    C,
    "Consumer positions reset (out of range, or a committed offset gone).",
    ("topic",),
)
LOAD_OFFSET_GAPS = MetricDef(
    "tickwatch_load_offset_gaps_total",
    C,
    "Forward gaps in a partition's offsets that are no reset (reason=transaction: commit/abort "
    "markers and aborted records skipped by the read_committed consumer).",
    ("topic", "reason"),
)
LOAD_SIDE_READ = MetricDef(
    "tickwatch_load_side_read_records_total",
    C,
    "Kafka messages re-read with the side consumer to re-form a recorded group's members that "
    "other workers own (outcome row or dead_letter); not in records_consumed or dead_letters, "
    "which count each message once, at its owner.",
    ("topic", "outcome"),
)

# --- telemetry and all workers ----------------------------------------------------------------
TELEMETRY_EXPORTED = MetricDef(
    "tickwatch_telemetry_exported_total", C, "Telemetry items written to ClickHouse.", ("signal",)
)
TELEMETRY_DROPPED = MetricDef(
    "tickwatch_telemetry_dropped_total", C, "Telemetry items dropped.", ("signal",)
)
HEARTBEAT_TIMESTAMP = MetricDef(
    "tickwatch_heartbeat_timestamp_seconds", G, "Unix time of the worker's last heartbeat.",
    ("service",), unit="seconds",
)  # fmt: skip
BUILD_INFO = MetricDef(
    "tickwatch_build_info", G, "Always 1; labels carry the version.", ("version", "service")
)
PROCESS_CPU = MetricDef(
    "process_cpu_seconds_total", C, "Total user and system CPU time spent in seconds.",
    unit="seconds", provided_by="prometheus_client.ProcessCollector",
)  # fmt: skip
PROCESS_RSS = MetricDef(
    "process_resident_memory_bytes", G, "Resident memory size in bytes.",
    unit="bytes", provided_by="prometheus_client.ProcessCollector",
)  # fmt: skip

# --- monitor ----------------------------------------------------------------------------------
MONITOR_CHECK_RUNS = MetricDef(
    "tickwatch_monitor_check_runs_total", C, "Health check runs by result.", ("check", "status")
)
MONITOR_CHECK_STATUS = MetricDef(
    "tickwatch_monitor_check_status", G, "Last check result: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.",
    ("check", "target"),
)  # fmt: skip
MONITOR_CHECK_DURATION = MetricDef(
    "tickwatch_monitor_check_duration_seconds", H, "Health check duration.", ("check",),
    unit="seconds", buckets=CHECK_BUCKETS,
)  # fmt: skip
ALERTS_OPEN = MetricDef("tickwatch_alerts_open", G, "Open alerts.", ("severity",))
ALERT_NOTIFICATIONS = MetricDef(
    "tickwatch_alert_notifications_total", C, "Notifications by outcome.", ("status",)
)
ALERT_OUTBOX_PENDING = MetricDef(
    "tickwatch_alert_outbox_pending", G, "Notifications waiting in the outbox."
)
ALERT_QUARANTINED = MetricDef(
    "tickwatch_alert_notifications_quarantined_total", C,
    "Notifications that can never be sent, taken out of the outbox (a fallback email names each).",
)  # fmt: skip
ALERT_INHIBITED = MetricDef(
    "tickwatch_alert_events_inhibited_total", C,
    "Alert events held back because a check they depend on is failing or just recovered.",
    ("check",),
)  # fmt: skip

SOURCE_POLLS = MetricDef(
    "tickwatch_source_polls_total", C,
    "Polls of a polling source by outcome (ok, partial: a request was malformed, failed: a "
    "429/5xx/timeout ended it).",
    ("source", "outcome"),
)  # fmt: skip
SOURCE_POLL_ERRORS = MetricDef(
    "tickwatch_source_poll_errors_total", C,
    "Failed requests of a polling source (rate_limited, server_error, timeout, transport, "
    "malformed, auth).",
    ("source", "reason"),
)  # fmt: skip
SOURCE_REPEATS_SKIPPED = MetricDef(
    "tickwatch_source_repeats_skipped_total", C,
    "Records a polling source got again (at or below the watermark, or a known trade id) and "
    "did not hand out.",
    ("source", "type"),
)  # fmt: skip

INGEST_HELD_RECORDS = MetricDef(
    "tickwatch_ingest_held_records", G,
    "Records the low-rate hold keeps before handing them to the producer (issue 18).",
)  # fmt: skip

CATALOG: tuple[MetricDef, ...] = (
    INGEST_RECORDS,
    INGEST_PRODUCE_ERRORS,
    INGEST_DELIVERY_LATENCY,
    INGEST_QUEUE_DEPTH,
    SOURCE_MESSAGES,
    SOURCE_DROPPED,
    SOURCE_RECONNECTS,
    SOURCE_AUTH_FAILURES,
    SOURCE_SECONDS_SINCE_LAST,
    SYMBOL_RECORDS,
    SYMBOL_SECONDS_SINCE_LAST,
    LOAD_CONSUMED,
    LOAD_ROWS_INSERTED,
    LOAD_DEAD_LETTERS,
    LOAD_BATCH_ROWS,
    LOAD_INSERT_DURATION,
    LOAD_EVENT_TO_INSERT,
    LOAD_KAFKA_TO_INSERT,
    LOAD_CONSUMER_LAG,
    LOAD_CONSUMER_LAG_SECONDS,
    LOAD_COMMIT_FAILURES,
    LOAD_CLICKHOUSE_RETRIES,
    LOAD_PAUSED_PARTITIONS,
    LOAD_INSERTS_REJECTED,
    LOAD_DLQ_ERRORS,
    LOAD_DLQ_TRUNCATED,
    LOAD_FLUSH_DEFERRED,
    LOAD_OFFSET_RESETS,
    LOAD_OFFSET_GAPS,
    LOAD_SIDE_READ,
    TELEMETRY_EXPORTED,
    TELEMETRY_DROPPED,
    HEARTBEAT_TIMESTAMP,
    BUILD_INFO,
    PROCESS_CPU,
    PROCESS_RSS,
    MONITOR_CHECK_RUNS,
    MONITOR_CHECK_STATUS,
    MONITOR_CHECK_DURATION,
    ALERTS_OPEN,
    ALERT_NOTIFICATIONS,
    ALERT_OUTBOX_PENDING,
    ALERT_QUARANTINED,
    ALERT_INHIBITED,
    SOURCE_POLLS,
    SOURCE_POLL_ERRORS,
    SOURCE_REPEATS_SKIPPED,
    INGEST_HELD_RECORDS,
)
"""Every metric tickwatch exposes, in definition order."""

CHECK_STATUS_CODES = {"OK": 0, "WARN": 1, "CRIT": 2, "UNKNOWN": 3}
"""Value of ``tickwatch_monitor_check_status`` per status; anything else counts as UNKNOWN."""
