"""Tick sources: the simulator (default), replay files, live vendor feeds and REST pollers.

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


POLLING_SOURCES = ("yfinance", "polygon_rest", "alpaca_rest")  # sources that poll REST APIs


def build_source(
    settings: Settings, metrics: IngestMetrics | None = None, *, clock: Clock | None = None
) -> Source:
    """The source named by ``settings.ingest.source``; nothing is read until iterated.

    ``metrics`` is required by live sources (they count messages, reconnects and auth
    failures themselves); ``clock`` paces the simulator and replay (tests pass a manual one).
    Replay, live and polling sources get their checkpoints under ``ingest.state_dir`` (default
    ``<stack.state_dir>/ingest``): the replay position, the trade-id ledgers and the polling
    watermarks (:mod:`pipeline.sources.poll`).

    Raises ``ValueError`` subclasses for bad simulator settings (anomaly spec, calendar name),
    :class:`~pipeline.sources.replay_rows.ReplayError` for a missing replay path,
    :class:`~pipeline.sources.checkpoint.CheckpointError` for a replay checkpoint of other files,
    and the live package's ``FatalFeedError`` for missing credentials or symbols.
    """
    kind = settings.ingest.source
    if kind == "simulator":
        from pipeline.sources.simulator import Simulator
        from tickwatch.market_hours import TradingHours

        hours = TradingHours(settings.hours.calendars, settings.hours.exchanges)
        return Simulator(settings.ingest, clock, hours=hours)
    state_dir = settings.ingest.resolved_state_dir(settings.stack.state_dir)
    if kind == "replay":
        from pipeline.sources.replay import ReplaySource
        from pipeline.sources.replay_checkpoint import ReplayCheckpoint, checkpoint_path
        from pipeline.sources.replay_files import replay_files

        path = settings.ingest.replay_path
        if path is None or settings.ingest.replay_transactions:
            # raises when replay_path is not set; with transactions the position lives in Kafka
            # and the entry point attaches it (pipeline.sources.replay_transactions.attach)
            return ReplaySource(settings.ingest, clock)
        checkpoints = ReplayCheckpoint(checkpoint_path(state_dir, path), path, replay_files(path))
        return ReplaySource(settings.ingest, clock, checkpoints=checkpoints)
    if metrics is None:
        from prometheus_client import CollectorRegistry

        from tickwatch.telemetry.catalog import IngestMetrics

        metrics = IngestMetrics(CollectorRegistry())
    if kind in POLLING_SOURCES:
        from pipeline.sources.poll import build_poll_source

        return build_poll_source(settings, metrics, state_dir=state_dir, clock=clock)
    from pipeline.sources.live import build_live_source

    return build_live_source(settings, metrics, state_dir=state_dir)
