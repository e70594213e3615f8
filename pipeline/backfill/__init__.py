"""Backfill: historical bars from vendor REST APIs (or a replay file) through the live path.

``tickwatch backfill`` fetches pages of bars (:mod:`.polygon`, :mod:`.alpaca`, :mod:`.replay`),
drops what is already covered or loaded, and produces each page to the bars topic in one Kafka
transaction with its watermark record (:mod:`.ledger`, :mod:`.engine`); the load worker loads
them exactly once like any other bar. ``tickwatch gaps`` (:mod:`.gaps`) lists the open-market
minutes a symbol has no 1-minute bar for and can backfill them.
"""
