-- Raw ticks, one table per record type. Ordered by (symbol, time) so a symbol's history is one
-- contiguous range; partitioned by day so TTL drops whole parts. The Kafka coordinates and the
-- receive/insert times make every row traceable to its message and its latency measurable.
-- non_replicated_deduplication_window keeps the recent insert_deduplication_tokens, which is what
-- makes a replayed batch a no-op (ReplicatedMergeTree has replicated_deduplication_window).
CREATE TABLE IF NOT EXISTS {market}.trades
(
    symbol          LowCardinality(String),
    asset_class     LowCardinality(String),
    event_time      DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    price           Float64 CODEC(Gorilla, ZSTD(1)),
    size            Float64 CODEC(Gorilla, ZSTD(1)),
    exchange        LowCardinality(String),
    trade_id        String CODEC(ZSTD(1)),
    conditions      Array(LowCardinality(String)),
    source          LowCardinality(String),
    received_at     DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    kafka_time      DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    inserted_at     DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    kafka_partition UInt16,
    kafka_offset    UInt64 CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(event_time)
ORDER BY (symbol, event_time)
TTL toDateTime(event_time) + INTERVAL {ticks_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {market}.quotes
(
    symbol          LowCardinality(String),
    asset_class     LowCardinality(String),
    event_time      DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    bid_price       Float64 CODEC(Gorilla, ZSTD(1)),
    bid_size        Float64 CODEC(Gorilla, ZSTD(1)),
    ask_price       Float64 CODEC(Gorilla, ZSTD(1)),
    ask_size        Float64 CODEC(Gorilla, ZSTD(1)),
    bid_exchange    LowCardinality(String),
    ask_exchange    LowCardinality(String),
    conditions      Array(LowCardinality(String)),
    source          LowCardinality(String),
    received_at     DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    kafka_time      DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    inserted_at     DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    kafka_partition UInt16,
    kafka_offset    UInt64 CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(event_time)
ORDER BY (symbol, event_time)
TTL toDateTime(event_time) + INTERVAL {ticks_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS {market}.bars
(
    symbol          LowCardinality(String),
    asset_class     LowCardinality(String),
    event_time      DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    interval_s      UInt32,
    open            Float64,
    high            Float64,
    low             Float64,
    close           Float64,
    volume          Float64,
    vwap            Float64,
    trade_count     UInt64,
    source          LowCardinality(String),
    received_at     DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    kafka_time      DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    inserted_at     DateTime64(6, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    kafka_partition UInt16,
    kafka_offset    UInt64 CODEC(DoubleDelta, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toDate(event_time)
ORDER BY (symbol, interval_s, event_time)
TTL toDateTime(event_time) + INTERVAL {ticks_ttl_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;
