-- Canonical instrument symbol and venue beside each vendor's own spelling (issue 13 §3), so one
-- query spans sources: `instrument` is BASE/QUOTE for crypto and FX pairs and the ticker for
-- equities; `venue` is the ISO 10383 MIC where one exists (pipeline/sources/live/instruments.py
-- holds the tables and their sources). Quote sizes are shares: `lot_size` is what the vendor's
-- round-lot size was multiplied by (1 = the vendor sent shares). Rows written before this
-- migration read '' / 1.
ALTER TABLE {market}.trades
    ADD COLUMN IF NOT EXISTS instrument LowCardinality(String) DEFAULT '' AFTER conditions,
    ADD COLUMN IF NOT EXISTS venue LowCardinality(String) DEFAULT '' AFTER instrument;

ALTER TABLE {market}.quotes
    ADD COLUMN IF NOT EXISTS instrument LowCardinality(String) DEFAULT '' AFTER conditions,
    ADD COLUMN IF NOT EXISTS bid_venue LowCardinality(String) DEFAULT '' AFTER instrument,
    ADD COLUMN IF NOT EXISTS ask_venue LowCardinality(String) DEFAULT '' AFTER bid_venue,
    ADD COLUMN IF NOT EXISTS lot_size UInt32 DEFAULT 1 AFTER ask_venue;

ALTER TABLE {market}.bars
    ADD COLUMN IF NOT EXISTS instrument LowCardinality(String) DEFAULT '' AFTER trade_count;
