-- symbol_latest, part 2 of 2: the table becomes a view over symbol_activity_daily, which keeps
-- every (record_type, source, symbol) since 0019 (its comment says why and how).
DROP TABLE IF EXISTS {market}.symbol_latest;

CREATE VIEW IF NOT EXISTS {market}.symbol_latest AS
SELECT
    record_type,
    source,
    symbol,
    anyLast(asset_class) AS asset_class,
    anyLast(exchange) AS exchange,
    min(first_event) AS first_event,
    max(last_event) AS last_event,
    max(fresh_as_of) AS fresh_as_of
FROM {market}.symbol_activity_daily
GROUP BY record_type, source, symbol
