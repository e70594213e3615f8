-- symbol_latest without a materialized view of its own (issue 18), part 1 of 2 (0020 replaces
-- the table by a view; two files so that either can simply be run again if interrupted: the
-- carrying INSERT below reads the table 0020 drops).
--
-- Until now every INSERT into trades, quotes or bars wrote a part into symbol_activity_daily
-- and, through symbol_latest_mv reading that block in turn, one more into symbol_latest: a
-- fifth part per trades INSERT (a fourth per quotes or bars INSERT), with its own view pipeline
-- to analyse and build, paid on every INSERT and on the event -> row path (issue 14). Measured
-- with bench/insert_cost.py (server CPU per INSERT) and bench's latency scenario (the INSERT's
-- duration per table).
--
-- Now symbol_latest is a plain view: symbol_activity_daily grouped by (record_type, source,
-- symbol), the same columns with the same aggregates. For that, symbol_activity_daily keeps
-- what symbol_latest kept forever: instead of deleting a day's rows when the ticks' TTL expires,
-- the TTL rolls all of a (record_type, source, symbol)'s expired rows of a month's partition up
-- into one row (TTL ... GROUP BY: min first_event, max last_event and fresh_as_of, the last
-- asset class and exchange; records = min(records) - min(records) is a 0 that the TTL merge
-- accepts, where 26.9 refuses a constant in SET). A rolled-up row counts 0 records: the
-- per-day counts expire with the ticks as before, and the freshness check's baseline
-- (records per day, read with records > 0) sees exactly the rows it saw. The table stays
-- bounded: one row per record type, source and symbol for each day within the TTL and for
-- each month before it.
--
-- Upgrading a database with data: symbol_latest may hold symbols whose daily rows all expired
-- (a symbol that went silent), or whose first days expired. Each such (record_type, source,
-- symbol) gets one carried row in symbol_activity_daily, on the day of its first event (an
-- expired day, so the TTL rolls it up), with 0 records: its first event, and for a symbol with
-- no daily rows left its last event, freshness and asset class too. Only then is the table
-- dropped (0020). Run these migrations with the load workers stopped, as every migration
-- (compose's migrate service runs before them).
--
-- Exactly once: nothing changes for the views that stay (the three activity views and both
-- candle views still deduplicate their blocks, deduplicate_blocks_in_dependent_materialized_views);
-- symbol_latest is now computed at read time, so a replay cannot reach it twice.
DROP VIEW IF EXISTS {market}.symbol_latest_mv;

ALTER TABLE {market}.symbol_activity_daily
    MODIFY TTL day + INTERVAL {ticks_ttl_days} DAY GROUP BY record_type, source, symbol
    SET asset_class = anyLast(asset_class), exchange = anyLast(exchange),
        records = min(records) - min(records), first_event = min(first_event),
        last_event = max(last_event), fresh_as_of = max(fresh_as_of);

INSERT INTO {market}.symbol_activity_daily
SELECT l.record_type, l.source, l.symbol, toDate(l.first_event), l.asset_class, l.exchange,
    toUInt64(0), l.first_event,
    if(d.first_day = toDate(0), l.last_event, l.first_event),
    if(d.first_day = toDate(0), l.fresh_as_of, l.first_event)
FROM
(
    SELECT record_type, source, symbol, anyLast(asset_class) AS asset_class,
        anyLast(exchange) AS exchange, min(first_event) AS first_event,
        max(last_event) AS last_event, max(fresh_as_of) AS fresh_as_of
    FROM {market}.symbol_latest
    GROUP BY record_type, source, symbol
) AS l
LEFT JOIN
(
    SELECT record_type, source, symbol, min(day) AS first_day
    FROM {market}.symbol_activity_daily
    GROUP BY record_type, source, symbol
) AS d ON l.record_type = d.record_type AND l.source = d.source AND l.symbol = d.symbol
WHERE d.first_day = toDate(0) OR toDate(l.first_event) < d.first_day
