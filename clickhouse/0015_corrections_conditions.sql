-- Trade corrections, cancels and trade conditions (issue 13 §4).
--
-- 1. Eligibility. Each trade carries three flags mapped at ingest from its conditions
--    (pipeline/sources/conditions.py holds the vendor tables and their sources): whether it may
--    set open/close, high/low, and whether it counts in volume (and so in vwap). Rows written
--    before this migration read 1/1/1: they counted in every candle already. The candle views
--    are dropped and created again, not changed with MODIFY QUERY: on chdb-core 26.9 a view
--    changed in place derived other deduplication tokens for its target before a server restart
--    than after it, so a batch written before a restart and replayed after it was counted twice
--    in the candle states (found by tests/pipeline/test_corrections_clickhouse.py). Run this
--    migration with the load workers stopped (compose's migrate service runs before them): a
--    trade inserted between the DROP and the CREATE would miss the candles. An ineligible trade contributes the neutral element of each state: 0 to
--    max(high) (prices are > 0), +inf to min(low), a far-future / far-past time to the open /
--    close argMin / argMax, 0 to volume and notional. open_close_trades / high_low_trades count
--    the trades that could set those fields, so the final views can say NULL where none could.
--
-- 2. Corrections and cancels are rows of trade_corrections, loaded from their own topic
--    through the same exactly-once insert path (deduplication tokens) as the trades.
--
-- 3. Applying them. The AggregatingMergeTree states cannot be subtracted, so a bucket named by
--    a correction is not read from the states at all: candles_1s / candles_1m read the states
--    for every other bucket and recompute each affected (symbol, bucket) from the corrected
--    trade set (corrected_trades: the bucket's trades minus every trade a correction or cancel
--    names, plus each correction's reprinted trade unless a later correction names that one in
--    turn). This is computed when the view is read, so:
--    - the delay is the load delay of the correction row itself (one batch: load.batch_max_ms),
--      with no repair job to schedule, fail or lag, and in whatever order the trade and its
--      correction arrive (different topics, partitions and consumers);
--    - a replayed or duplicated correction cannot apply twice: corrections are used as sets
--      (IN / NOT IN, one reprint per original id with LIMIT 1 BY), never summed;
--    - the cost is bounded by the number of corrected buckets: the set subqueries read only
--      trade_corrections (a few rows per symbol and day), and the recomputation reads trades only
--      for the corrected symbols within the corrected time range (the trades sort key).
--    Alpaca's `t` on a correction or cancel is the named trade's time (the ids and times in its
--    documented examples agree), which is what places a correction in its bucket.
ALTER TABLE {market}.trades
    ADD COLUMN IF NOT EXISTS tape LowCardinality(String) DEFAULT '' AFTER venue,
    ADD COLUMN IF NOT EXISTS updates_open_close UInt8 DEFAULT 1 AFTER tape,
    ADD COLUMN IF NOT EXISTS updates_high_low UInt8 DEFAULT 1 AFTER updates_open_close,
    ADD COLUMN IF NOT EXISTS updates_volume UInt8 DEFAULT 1 AFTER updates_high_low;

CREATE TABLE IF NOT EXISTS {market}.trade_corrections
(
    symbol                       LowCardinality(String),
    asset_class                  LowCardinality(String),
    event_time                   DateTime64(6, 'UTC'),
    action                       LowCardinality(String),
    trade_id                     String,
    price                        Float64,
    size                         Float64,
    exchange                     LowCardinality(String),
    conditions                   Array(LowCardinality(String)),
    corrected_id                 String,
    corrected_price              Float64,
    corrected_size               Float64,
    corrected_conditions         Array(LowCardinality(String)),
    corrected_updates_open_close UInt8,
    corrected_updates_high_low   UInt8,
    corrected_updates_volume     UInt8,
    tape                         LowCardinality(String),
    source                       LowCardinality(String),
    instrument                   LowCardinality(String),
    venue                        LowCardinality(String),
    received_at                  DateTime64(6, 'UTC'),
    kafka_time                   DateTime64(3, 'UTC'),
    inserted_at                  DateTime64(6, 'UTC'),
    kafka_partition              UInt16,
    kafka_offset                 UInt64
)
ENGINE = MergeTree
PARTITION BY toDate(event_time)
ORDER BY (symbol, event_time, trade_id)
TTL toDateTime(event_time) + INTERVAL {ticks_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

ALTER TABLE {market}.candles_1s_state
    ADD COLUMN IF NOT EXISTS open_close_trades SimpleAggregateFunction(sum, UInt64)
        DEFAULT trade_count,
    ADD COLUMN IF NOT EXISTS high_low_trades SimpleAggregateFunction(sum, UInt64)
        DEFAULT trade_count;

ALTER TABLE {market}.candles_1m_state
    ADD COLUMN IF NOT EXISTS open_close_trades SimpleAggregateFunction(sum, UInt64)
        DEFAULT trade_count,
    ADD COLUMN IF NOT EXISTS high_low_trades SimpleAggregateFunction(sum, UInt64)
        DEFAULT trade_count;

DROP VIEW IF EXISTS {market}.candles_1s_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {market}.candles_1s_mv TO {market}.candles_1s_state AS
SELECT
    symbol,
    toStartOfSecond(event_time) AS bucket,
    argMinState(price, if(updates_open_close = 1, event_time,
        toDateTime64('2299-12-31 00:00:00', 6, 'UTC'))) AS open,
    max(if(updates_high_low = 1, price, 0.)) AS high,
    min(if(updates_high_low = 1, price, inf)) AS low,
    argMaxState(price, if(updates_open_close = 1, event_time,
        toDateTime64('1900-01-01 00:00:00', 6, 'UTC'))) AS close,
    sum(if(updates_volume = 1, size, 0.)) AS volume,
    sum(if(updates_volume = 1, price * size, 0.)) AS notional,
    toUInt64(count()) AS trade_count,
    toUInt64(countIf(updates_open_close = 1)) AS open_close_trades,
    toUInt64(countIf(updates_high_low = 1)) AS high_low_trades
FROM {market}.trades
GROUP BY symbol, bucket;

DROP VIEW IF EXISTS {market}.candles_1m_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {market}.candles_1m_mv TO {market}.candles_1m_state AS
SELECT
    symbol,
    toStartOfMinute(event_time) AS bucket,
    argMinState(price, if(updates_open_close = 1, event_time,
        toDateTime64('2299-12-31 00:00:00', 6, 'UTC'))) AS open,
    max(if(updates_high_low = 1, price, 0.)) AS high,
    min(if(updates_high_low = 1, price, inf)) AS low,
    argMaxState(price, if(updates_open_close = 1, event_time,
        toDateTime64('1900-01-01 00:00:00', 6, 'UTC'))) AS close,
    sum(if(updates_volume = 1, size, 0.)) AS volume,
    sum(if(updates_volume = 1, price * size, 0.)) AS notional,
    toUInt64(count()) AS trade_count,
    toUInt64(countIf(updates_open_close = 1)) AS open_close_trades,
    toUInt64(countIf(updates_high_low = 1)) AS high_low_trades
FROM {market}.trades
GROUP BY symbol, bucket;

-- The trades of every minute a correction or cancel names, after applying them (see 3 above).
CREATE OR REPLACE VIEW {market}.corrected_trades AS
SELECT symbol, event_time, price, size, updates_open_close, updates_high_low, updates_volume
FROM {market}.trades
WHERE symbol IN (SELECT symbol FROM {market}.trade_corrections)
    AND event_time >= (SELECT toStartOfMinute(min(event_time)) FROM {market}.trade_corrections)
    AND event_time < (SELECT toStartOfMinute(max(event_time)) + INTERVAL 1 MINUTE
        FROM {market}.trade_corrections)
    AND (symbol, toStartOfMinute(event_time)) IN
        (SELECT symbol, toStartOfMinute(event_time) FROM {market}.trade_corrections)
    AND (source, symbol, trade_id) NOT IN
        (SELECT source, symbol, trade_id FROM {market}.trade_corrections)
UNION ALL
SELECT symbol, event_time, corrected_price, corrected_size, corrected_updates_open_close,
    corrected_updates_high_low, corrected_updates_volume
FROM
(
    SELECT *
    FROM {market}.trade_corrections
    WHERE action = 'correct'
        AND (source, symbol, corrected_id) NOT IN
            (SELECT source, symbol, trade_id FROM {market}.trade_corrections)
    ORDER BY kafka_time
    LIMIT 1 BY source, symbol, trade_id
);

CREATE OR REPLACE VIEW {market}.candles_1s AS
SELECT
    symbol,
    bucket,
    if(sum(open_close_trades) > 0, argMinMerge(open), NULL) AS open,
    if(sum(high_low_trades) > 0, max(high), NULL) AS high,
    if(sum(high_low_trades) > 0, min(low), NULL) AS low,
    if(sum(open_close_trades) > 0, argMaxMerge(close), NULL) AS close,
    sum(volume) AS volume,
    if(volume > 0, sum(notional) / volume, 0) AS vwap,
    sum(trade_count) AS trade_count
FROM {market}.candles_1s_state
WHERE (symbol, bucket) NOT IN
    (SELECT symbol, toStartOfSecond(event_time) FROM {market}.trade_corrections)
GROUP BY symbol, bucket
UNION ALL
SELECT
    symbol,
    toStartOfSecond(event_time) AS bucket,
    if(countIf(updates_open_close = 1) > 0,
        argMinIf(price, event_time, updates_open_close = 1), NULL) AS open,
    if(countIf(updates_high_low = 1) > 0, maxIf(price, updates_high_low = 1), NULL) AS high,
    if(countIf(updates_high_low = 1) > 0, minIf(price, updates_high_low = 1), NULL) AS low,
    if(countIf(updates_open_close = 1) > 0,
        argMaxIf(price, event_time, updates_open_close = 1), NULL) AS close,
    sumIf(size, updates_volume = 1) AS volume,
    if(volume > 0, sumIf(price * size, updates_volume = 1) / volume, 0) AS vwap,
    toUInt64(count()) AS trade_count
FROM {market}.corrected_trades
WHERE (symbol, toStartOfSecond(event_time)) IN
    (SELECT symbol, toStartOfSecond(event_time) FROM {market}.trade_corrections)
GROUP BY symbol, bucket;

CREATE OR REPLACE VIEW {market}.candles_1m AS
SELECT
    symbol,
    bucket,
    if(sum(open_close_trades) > 0, argMinMerge(open), NULL) AS open,
    if(sum(high_low_trades) > 0, max(high), NULL) AS high,
    if(sum(high_low_trades) > 0, min(low), NULL) AS low,
    if(sum(open_close_trades) > 0, argMaxMerge(close), NULL) AS close,
    sum(volume) AS volume,
    if(volume > 0, sum(notional) / volume, 0) AS vwap,
    sum(trade_count) AS trade_count
FROM {market}.candles_1m_state
WHERE (symbol, bucket) NOT IN
    (SELECT symbol, toStartOfMinute(event_time) FROM {market}.trade_corrections)
GROUP BY symbol, bucket
UNION ALL
SELECT
    symbol,
    toStartOfMinute(event_time) AS bucket,
    if(countIf(updates_open_close = 1) > 0,
        argMinIf(price, event_time, updates_open_close = 1), NULL) AS open,
    if(countIf(updates_high_low = 1) > 0, maxIf(price, updates_high_low = 1), NULL) AS high,
    if(countIf(updates_high_low = 1) > 0, minIf(price, updates_high_low = 1), NULL) AS low,
    if(countIf(updates_open_close = 1) > 0,
        argMaxIf(price, event_time, updates_open_close = 1), NULL) AS close,
    sumIf(size, updates_volume = 1) AS volume,
    if(volume > 0, sumIf(price * size, updates_volume = 1) / volume, 0) AS vwap,
    toUInt64(count()) AS trade_count
FROM {market}.corrected_trades
GROUP BY symbol, bucket
