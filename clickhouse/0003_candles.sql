-- OHLCV candles from trades. The materialized views write partial aggregates into
-- AggregatingMergeTree tables; the candles_1s / candles_1m views finalise them, so a candle is
-- correct however many inserts (and background merges) built it. open/close are the prices of
-- the earliest/latest trade by event time, not by arrival.
CREATE TABLE IF NOT EXISTS {market}.candles_1s_state
(
    symbol      LowCardinality(String),
    bucket      DateTime('UTC'),
    open        AggregateFunction(argMin, Float64, DateTime64(6, 'UTC')),
    high        SimpleAggregateFunction(max, Float64),
    low         SimpleAggregateFunction(min, Float64),
    close       AggregateFunction(argMax, Float64, DateTime64(6, 'UTC')),
    volume      SimpleAggregateFunction(sum, Float64),
    notional    SimpleAggregateFunction(sum, Float64),
    trade_count SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(bucket)
ORDER BY (symbol, bucket)
TTL bucket + INTERVAL {ticks_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {market}.candles_1s_mv TO {market}.candles_1s_state AS
SELECT
    symbol,
    toStartOfSecond(event_time) AS bucket,
    argMinState(price, event_time) AS open,
    max(price) AS high,
    min(price) AS low,
    argMaxState(price, event_time) AS close,
    sum(size) AS volume,
    sum(price * size) AS notional,
    toUInt64(count()) AS trade_count
FROM {market}.trades
GROUP BY symbol, bucket;

CREATE TABLE IF NOT EXISTS {market}.candles_1m_state AS {market}.candles_1s_state
ENGINE = AggregatingMergeTree
PARTITION BY toDate(bucket)
ORDER BY (symbol, bucket)
TTL bucket + INTERVAL {ticks_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {market}.candles_1m_mv TO {market}.candles_1m_state AS
SELECT
    symbol,
    toStartOfMinute(event_time) AS bucket,
    argMinState(price, event_time) AS open,
    max(price) AS high,
    min(price) AS low,
    argMaxState(price, event_time) AS close,
    sum(size) AS volume,
    sum(price * size) AS notional,
    toUInt64(count()) AS trade_count
FROM {market}.trades
GROUP BY symbol, bucket;

CREATE VIEW IF NOT EXISTS {market}.candles_1s AS
SELECT
    symbol,
    bucket,
    argMinMerge(open) AS open,
    max(high) AS high,
    min(low) AS low,
    argMaxMerge(close) AS close,
    sum(volume) AS volume,
    if(volume > 0, sum(notional) / volume, 0) AS vwap,
    sum(trade_count) AS trade_count
FROM {market}.candles_1s_state
GROUP BY symbol, bucket;

CREATE VIEW IF NOT EXISTS {market}.candles_1m AS
SELECT
    symbol,
    bucket,
    argMinMerge(open) AS open,
    max(high) AS high,
    min(low) AS low,
    argMaxMerge(close) AS close,
    sum(volume) AS volume,
    if(volume > 0, sum(notional) / volume, 0) AS vwap,
    sum(trade_count) AS trade_count
FROM {market}.candles_1m_state
GROUP BY symbol, bucket;
