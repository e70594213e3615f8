-- The Parquet archive (pipeline/archive): one manifest row per archived piece, one event row per
-- action on a day. Reads use FINAL: a piece's newest row (by updated_at) is its state.
CREATE TABLE IF NOT EXISTS {ops}.archive_manifest
(
    table       LowCardinality(String),
    day         Date,
    part        UInt16,
    object_key  String,
    rows        UInt64,
    bytes       UInt64,
    min_time    DateTime64(6, 'UTC'),
    max_time    DateTime64(6, 'UTC'),
    checksum    UInt64,
    status      Enum8('exported' = 1, 'verified' = 2, 'mismatch' = 3),
    detail      String,
    updated_at  DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (table, day, part);

CREATE TABLE IF NOT EXISTS {ops}.archive_events
(
    time    DateTime64(6, 'UTC'),
    table   LowCardinality(String),
    day     Date,
    action  Enum8('export' = 1, 'verify' = 2, 'mismatch' = 3, 'drop' = 4, 'restore' = 5),
    rows    UInt64,
    detail  String
)
ENGINE = MergeTree
ORDER BY (table, day, time);

-- Never drop unarchived data: the day-based TTLs of the hot tables would delete a day whether or
-- not it was archived, so they are switched off here (WHERE 0 never matches; unlike REMOVE TTL
-- the statement can be re-run). `tickwatch archive retain` drops a day's partition after
-- ticks_ttl_days only when its archive is verified and still matches the hot rows.
ALTER TABLE {market}.trades MODIFY TTL toDateTime(event_time) + INTERVAL {ticks_ttl_days} DAY WHERE 0;
ALTER TABLE {market}.quotes MODIFY TTL toDateTime(event_time) + INTERVAL {ticks_ttl_days} DAY WHERE 0;
ALTER TABLE {market}.bars MODIFY TTL toDateTime(event_time) + INTERVAL {ticks_ttl_days} DAY WHERE 0;
ALTER TABLE {market}.candles_1s_state MODIFY TTL bucket + INTERVAL {ticks_ttl_days} DAY WHERE 0;
ALTER TABLE {market}.candles_1m_state MODIFY TTL bucket + INTERVAL {ticks_ttl_days} DAY WHERE 0
