"""The symbols the configured source should deliver, so a feed that never sent has a target.

From ``settings.ingest``: the simulator's universe (its symbols, asset classes and listing
exchanges, exactly as the simulator builds them), or a live vendor's symbol list with the asset
class its feed carries. A replay file declares nothing up front (its symbols are learned from
the rows it loaded). The detector's freshness check watches expected symbols in ``trades``; the
composition root (``tickwatch monitor``) computes them here and hands them to the detector, which
never imports the pipeline.
"""

from __future__ import annotations

from tickwatch.settings import Settings
from tickwatch.types import ExpectedSymbol


def expected_symbols(settings: Settings) -> list[ExpectedSymbol]:
    """What ``settings.ingest`` says will arrive; [] for a replay or no symbol list.

    Raises ``ValueError`` for a bad simulator setting (anomalies, calendar)."""
    ingest = settings.ingest
    if ingest.source == "simulator":
        from pipeline.sources.simulator import Simulator
        from pipeline.sources.tickers import CLASSES

        u = Simulator(ingest.model_copy(update={"trading_calendar": ""})).universe
        return [
            ExpectedSymbol("simulator", s, CLASSES[c].value, x)
            for s, c, x in zip(u.symbols, u.cls.tolist(), u.exchange, strict=True)
        ]
    from pipeline.sources.live import LIVE_SOURCES, live_asset_class
    from pipeline.sources.live.errors import FatalFeedError
    from pipeline.sources.live.symbols import load_symbols

    if ingest.source not in LIVE_SOURCES:
        return []
    try:
        symbols = load_symbols(ingest)
    except FatalFeedError:
        return []  # the ingest worker refuses to start without symbols, and says so
    asset_class = live_asset_class(settings)
    return [ExpectedSymbol(ingest.source, s, asset_class) for s in symbols]
