"""Backfill: historical bars and trades from vendor REST APIs (or a replay file), live path.

``tickwatch backfill`` fetches pages of bars (:mod:`.polygon`, :mod:`.alpaca`, :mod:`.replay`;
stocks, crypto and FX, :mod:`.symbols`) or of US-stock trades (:mod:`.polygon_trades`,
:mod:`.alpaca_trades`), drops what is already covered or loaded (:mod:`.loaded`), and produces
each page to the bars or trades topic in one Kafka transaction with its watermark record
(:mod:`.ledger`, :mod:`.engine`); the load worker loads them exactly once like any other record.
``tickwatch gaps`` (:mod:`.gaps`) lists the open-market minutes a symbol has no 1-minute bar for
and can backfill them.
"""
