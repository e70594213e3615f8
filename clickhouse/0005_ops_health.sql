-- The downtime detector's results and alert lifecycle, and every notification it tried to send.
CREATE TABLE IF NOT EXISTS {ops}.health_checks
(
    time        DateTime64(3, 'UTC'),
    check       LowCardinality(String),
    target      String,
    status      Enum8('OK' = 0, 'WARN' = 1, 'CRIT' = 2, 'UNKNOWN' = 3),
    value       Float64,
    threshold   Float64,
    message     String,
    duration_ms Float64
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (check, target, time)
TTL toDateTime(time) + INTERVAL {ops_ttl_days} DAY;

CREATE TABLE IF NOT EXISTS {ops}.alert_events
(
    time      DateTime64(3, 'UTC'),
    alert_key String,
    check     LowCardinality(String),
    target    String,
    event     Enum8('open' = 1, 'repeat' = 2, 'resolve' = 3, 'severity_change' = 4),
    severity  Enum8('OK' = 0, 'WARN' = 1, 'CRIT' = 2, 'UNKNOWN' = 3),
    since     DateTime64(3, 'UTC'),
    value     Float64,
    threshold Float64,
    message   String
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (alert_key, time)
TTL toDateTime(time) + INTERVAL {ops_ttl_days} DAY;

CREATE TABLE IF NOT EXISTS {ops}.notifications
(
    time       DateTime64(3, 'UTC'),
    channel    LowCardinality(String),
    recipients Array(String),
    subject    String,
    alert_keys Array(String),
    status     Enum8('sent' = 1, 'retrying' = 2, 'failed' = 3, 'suppressed' = 4),
    attempt    UInt16,
    error      String
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (time)
TTL toDateTime(time) + INTERVAL {ops_ttl_days} DAY;
