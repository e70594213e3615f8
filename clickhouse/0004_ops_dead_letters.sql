-- Messages the load worker rejected, with why and where they came from. The same message also
-- goes to the Kafka dead-letter topic; this table is what dashboards and the detector read.
CREATE TABLE IF NOT EXISTS {ops}.dead_letters
(
    time            DateTime64(6, 'UTC') DEFAULT now64(6),
    topic           LowCardinality(String),
    kafka_partition UInt16,
    kafka_offset    UInt64,
    kafka_time      DateTime64(3, 'UTC'),
    key             String,
    reason          LowCardinality(String),
    detail          String,
    payload         String CODEC(ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (topic, kafka_partition, kafka_offset)
TTL toDateTime(time) + INTERVAL {ops_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;
