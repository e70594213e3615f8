-- Backfill watermarks of trades (issue 16, pipeline/backfill/interval.py TRADES): trades have no
-- bar length, so their watermarks are keyed (source, symbol, interval_s = 0, range_start) in the
-- ORDER BY of 0016 — no bar is 0 s long, so the two never share a key. `dataset` names which
-- one a row is ('trades' or 'bars') for queries and the dashboard's backfill panel; `bars` then
-- counts the records (bars or trades) produced under the mark.
ALTER TABLE {ops}.backfill_watermarks
    ADD COLUMN IF NOT EXISTS dataset LowCardinality(String) ALIAS if(interval_s = 0, 'trades', 'bars');
