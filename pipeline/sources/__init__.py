"""Tick sources: the simulator (default), replay files and live vendor feeds.

:func:`build_source` picks one from ``settings.ingest.source``; modules load lazily so the
simulator does not import WebSocket clients and a live feed does not import pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.sources.base import Source
    from tickwatch.clock import Clock
    from tickwatch.settings import Settings
    from tickwatch.telemetry.catalog import IngestMetrics


def build_source(
    settings: Settings, metrics: IngestMetrics | None = None, *, clock: Clock | None = None
) -> Source:
    """The source named by ``settings.ingest.source``; nothing is read until iterated.

    ``metrics`` is required by live sources (they count messages, reconnects and auth
    failures themselves); ``clock`` paces the simulator and replay (tests pass a manual one).
    Raises ``ValueError`` subclasses for bad simulator settings (anomaly spec, calendar name),
    :class:`~pipeline.sources.replay_rows.ReplayError` for a missing replay path, and the live
    package's ``FatalFeedError`` for missing credentials or symbols.
    """
    kind = settings.ingest.source
    if kind == "simulator":
        from pipeline.sources.simulator import Simulator
        from tickwatch.market_hours import TradingHours

        hours = TradingHours(settings.hours.calendars, settings.hours.exchanges)
        return Simulator(settings.ingest, clock, hours=hours)
    if kind == "replay":
        from pipeline.sources.replay import ReplaySource

        return ReplaySource(settings.ingest, clock)
    from pipeline.sources.live import build_live_source

    if metrics is None:
        from prometheus_client import CollectorRegistry

        from tickwatch.telemetry.catalog import IngestMetrics

        metrics = IngestMetrics(CollectorRegistry())
    return build_live_source(settings, metrics)
