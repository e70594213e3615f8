-- The detector's latency check (monitor/checks/pipeline_rates.py, LatencyCheck) asks every
-- MONITOR_LATENCY_INTERVAL_S (15 s) for the p99 of inserted_at - event_time over the trades
-- inserted in the last interval. inserted_at is in neither the partition key (the event's day)
-- nor the sorting key (symbol, event_time), so that filter read inserted_at and event_time of
-- every trade the table keeps, all days of it: at 200 ticks/s a day is about 11M trades, and the
-- cost of the check grew with the table until it was larger than everything else the server did
-- at idle (issue 18). A min-max index per granule lets the server skip every granule whose
-- trades were all inserted before the interval: the load worker stamps one inserted_at per
-- INSERT, and within a merged part a granule holds one symbol's consecutive trades, whose
-- insert times are as close together as their event times. The rows the check sees, and so its
-- alerts, are the same; only the reading is smaller.
-- MATERIALIZE builds the index for the parts written before this migration (a mutation that reads
-- inserted_at once); parts written later get it as they are written.
ALTER TABLE {market}.trades ADD INDEX IF NOT EXISTS idx_inserted_at inserted_at TYPE minmax GRANULARITY 1;
ALTER TABLE {market}.trades MATERIALIZE INDEX idx_inserted_at
