-- Things that happened to the pipeline that are not ticks: today, a consumer position that was
-- reset (a committed offset outside the log after retention, a recreated topic or a broker that
-- lost its tail; or a partition with loaded rows but no committed offset). The load worker
-- writes one row per event; the detector's offset_resets check alerts on them.
CREATE TABLE IF NOT EXISTS {ops}.pipeline_events
(
    time            DateTime64(6, 'UTC') DEFAULT now64(6),
    service         LowCardinality(String),
    kind            LowCardinality(String),
    topic           LowCardinality(String),
    kafka_partition UInt16,
    expected_offset Int64,
    actual_offset   Int64,
    policy          LowCardinality(String),
    detail          String
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (kind, topic, kafka_partition, time)
TTL toDateTime(time) + INTERVAL {ops_ttl_days} DAY;
