-- Backfill watermarks (pipeline/backfill/ledger.py): one row per (source, symbol, interval_s,
-- range_start), newest by updated_at; every bar with range_start <= event_time <= watermark has
-- been produced in a committed Kafka transaction. A mirror of the compacted Kafka ledger topic
-- (backfill.topic_ledger), which is authoritative while it exists. Read with FINAL.
CREATE TABLE IF NOT EXISTS {ops}.backfill_watermarks
(
    source       LowCardinality(String),
    symbol       LowCardinality(String),
    interval_s   UInt32,
    range_start  DateTime64(6, 'UTC'),
    watermark    DateTime64(6, 'UTC'),
    bars         UInt64,
    run_id       String,
    updated_at   DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (source, symbol, interval_s, range_start);
