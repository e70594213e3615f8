-- Per-symbol activity for the detector's freshness check, so it never scans the tick tables.
-- Materialized views on trades, quotes and bars add one row per (record type, source, symbol,
-- day) to symbol_activity_daily: records, first and last event time (the detector derives each
-- symbol's typical inter-arrival time in trading time from them) and fresh_as_of (for a bar,
-- its start plus two intervals: the next bar is due one interval after it is published).
-- A second view folds those rows into symbol_latest, one row per (record type, source, symbol)
-- and no TTL: a symbol that goes silent stays expected after its raw rows have expired.
-- Rows are partial aggregates: read them with GROUP BY (max/min/sum), never as they are.
CREATE TABLE IF NOT EXISTS {market}.symbol_activity_daily
(
    record_type LowCardinality(String),
    source      LowCardinality(String),
    symbol      LowCardinality(String),
    day         Date,
    asset_class SimpleAggregateFunction(anyLast, String),
    exchange    SimpleAggregateFunction(anyLast, String),
    records     SimpleAggregateFunction(sum, UInt64),
    first_event SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    last_event  SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    fresh_as_of SimpleAggregateFunction(max, DateTime64(6, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (record_type, source, symbol, day)
TTL day + INTERVAL {ticks_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {market}.symbol_latest
(
    record_type LowCardinality(String),
    source      LowCardinality(String),
    symbol      LowCardinality(String),
    asset_class SimpleAggregateFunction(anyLast, String),
    exchange    SimpleAggregateFunction(anyLast, String),
    first_event SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    last_event  SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    fresh_as_of SimpleAggregateFunction(max, DateTime64(6, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (record_type, source, symbol)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {market}.symbol_latest_mv TO {market}.symbol_latest AS
SELECT record_type, source, symbol, asset_class, exchange, first_event, last_event, fresh_as_of
FROM {market}.symbol_activity_daily;

CREATE MATERIALIZED VIEW IF NOT EXISTS {market}.symbol_activity_trades_mv
TO {market}.symbol_activity_daily AS
SELECT
    'trades' AS record_type,
    source,
    symbol,
    toDate(event_time) AS day,
    toString(anyLast(asset_class)) AS asset_class,
    toString(anyLast(exchange)) AS exchange,
    toUInt64(count()) AS records,
    min(event_time) AS first_event,
    max(event_time) AS last_event,
    max(event_time) AS fresh_as_of
FROM {market}.trades
GROUP BY source, symbol, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS {market}.symbol_activity_quotes_mv
TO {market}.symbol_activity_daily AS
SELECT
    'quotes' AS record_type,
    source,
    symbol,
    toDate(event_time) AS day,
    toString(anyLast(asset_class)) AS asset_class,
    toString(anyLast(bid_exchange)) AS exchange,
    toUInt64(count()) AS records,
    min(event_time) AS first_event,
    max(event_time) AS last_event,
    max(event_time) AS fresh_as_of
FROM {market}.quotes
GROUP BY source, symbol, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS {market}.symbol_activity_bars_mv
TO {market}.symbol_activity_daily AS
SELECT
    'bars' AS record_type,
    source,
    symbol,
    toDate(event_time) AS day,
    toString(anyLast(asset_class)) AS asset_class,
    '' AS exchange,
    toUInt64(count()) AS records,
    min(event_time) AS first_event,
    max(event_time) AS last_event,
    max(event_time + toIntervalSecond(2 * interval_s)) AS fresh_as_of
FROM {market}.bars
GROUP BY source, symbol, day;

-- Rows loaded before this migration: one scan of each tick table, once.
INSERT INTO {market}.symbol_activity_daily
SELECT 'trades', source, symbol, toDate(event_time) AS day, toString(anyLast(asset_class)),
    toString(anyLast(exchange)), toUInt64(count()), min(event_time), max(event_time),
    max(event_time)
FROM {market}.trades
GROUP BY source, symbol, day;

INSERT INTO {market}.symbol_activity_daily
SELECT 'quotes', source, symbol, toDate(event_time) AS day, toString(anyLast(asset_class)),
    toString(anyLast(bid_exchange)), toUInt64(count()), min(event_time), max(event_time),
    max(event_time)
FROM {market}.quotes
GROUP BY source, symbol, day;

INSERT INTO {market}.symbol_activity_daily
SELECT 'bars', source, symbol, toDate(event_time) AS day, toString(anyLast(asset_class)), '',
    toUInt64(count()), min(event_time), max(event_time),
    max(event_time + toIntervalSecond(2 * interval_s))
FROM {market}.bars
GROUP BY source, symbol, day
