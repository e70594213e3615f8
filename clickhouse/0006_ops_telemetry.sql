-- Telemetry written by the workers themselves. otel_traces and otel_logs follow the
-- OpenTelemetry Collector ClickHouse exporter's table layout, so the Grafana ClickHouse plugin's
-- trace and log views read them as they are.
CREATE TABLE IF NOT EXISTS {ops}.otel_traces
(
    Timestamp          DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId            String CODEC(ZSTD(1)),
    SpanId             String CODEC(ZSTD(1)),
    ParentSpanId       String CODEC(ZSTD(1)),
    TraceState         String CODEC(ZSTD(1)),
    SpanName           LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind           LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName        LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName          String CODEC(ZSTD(1)),
    ScopeVersion       String CODEC(ZSTD(1)),
    SpanAttributes     Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration           UInt64 CODEC(ZSTD(1)),
    StatusCode         LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage      String CODEC(ZSTD(1)),
    Events Nested
    (
        Timestamp  DateTime64(9),
        Name       LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested
    (
        TraceId    String,
        SpanId     String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
TTL toDateTime(Timestamp) + toIntervalDay({ops_ttl_days})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS {ops}.otel_traces_trace_id_ts
(
    TraceId String CODEC(ZSTD(1)),
    Start   DateTime CODEC(Delta, ZSTD(1)),
    End     DateTime CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
TTL toDateTime(Start) + toIntervalDay({ops_ttl_days})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS {ops}.otel_traces_trace_id_ts_mv
TO {ops}.otel_traces_trace_id_ts AS
SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM {ops}.otel_traces
WHERE TraceId != ''
GROUP BY TraceId;

CREATE TABLE IF NOT EXISTS {ops}.otel_logs
(
    Timestamp          DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TimestampTime      DateTime DEFAULT toDateTime(Timestamp),
    TraceId            String CODEC(ZSTD(1)),
    SpanId             String CODEC(ZSTD(1)),
    TraceFlags         UInt8,
    SeverityText       LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber     UInt8,
    ServiceName        LowCardinality(String) CODEC(ZSTD(1)),
    Body               String CODEC(ZSTD(1)),
    ResourceSchemaUrl  LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl     LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName          String CODEC(ZSTD(1)),
    ScopeVersion       LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes    Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes      Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime)
ORDER BY (ServiceName, TimestampTime, Timestamp)
TTL TimestampTime + toIntervalDay({ops_ttl_days})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

-- Periodic snapshots of every Prometheus metric a worker exposes (histograms as their
-- _bucket/_sum/_count samples, no _created), written every telemetry.export_interval_s by
-- tickwatch/telemetry/snapshots.py, so pipeline health can be read from ClickHouse alone.
-- One narrow table instead of the Collector's metrics schema (one table per metric type with
-- OTLP temporality/exemplar columns): the samples already are Prometheus samples, so the
-- exposition name plus a label map is queried the same way for every type and matches PromQL.
CREATE TABLE IF NOT EXISTS {ops}.pipeline_metrics
(
    time     DateTime64(3, 'UTC'),
    service  LowCardinality(String),
    instance LowCardinality(String),
    metric   LowCardinality(String),
    labels   Map(LowCardinality(String), String),
    value    Float64
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (service, metric, time)
TTL toDateTime(time) + INTERVAL {ops_ttl_days} DAY;

-- One row per worker every telemetry.heartbeat_interval_s (tickwatch/telemetry/heartbeats.py;
-- instance defaults to host:pid, status is ok/unhealthy from the worker's health callback); the
-- detector's heartbeat check reads max(time) per (service, instance).
CREATE TABLE IF NOT EXISTS {ops}.heartbeats
(
    time     DateTime64(3, 'UTC'),
    service  LowCardinality(String),
    instance LowCardinality(String),
    host     LowCardinality(String),
    pid      UInt32,
    started  DateTime64(3, 'UTC'),
    status   LowCardinality(String),
    details  Map(LowCardinality(String), String)
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (service, instance, time)
TTL toDateTime(time) + INTERVAL {ops_ttl_days} DAY;
