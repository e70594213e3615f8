"""Polling sources for vendors without a stream: Yahoo's chart API, Polygon and Alpaca REST
snapshots.

The ingest worker gets one from :func:`build_poll_source` when ``settings.ingest.source`` is
``yfinance``, ``polygon_rest`` or ``alpaca_rest``. Base URLs, interval, timeout and backoff are
``settings.poll.*`` (tests point the URLs at local fixture servers); symbols come from
``ingest.symbol_list`` / ``symbols_file``; credentials from the live sources' mechanism
(:mod:`pipeline.sources.live.credentials`). State under ``ingest.state_dir``:
``poll/<source>.json`` (watermarks) and ``trades/<source>.keys`` (the trade ledger).
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx

from pipeline.sources.live.credentials import resolve_credentials
from pipeline.sources.live.symbols import load_symbols
from pipeline.sources.live.trade_ledger import TradeLedger
from pipeline.sources.poll.alpaca import AlpacaSnapshots
from pipeline.sources.poll.errors import PollConfigError
from pipeline.sources.poll.polygon import PolygonSnapshots
from pipeline.sources.poll.source import PollingSource, default_backoff
from pipeline.sources.poll.vendor import PollVendor
from pipeline.sources.poll.yahoo import YahooChart
from tickwatch.clock import Clock
from tickwatch.settings import Settings
from tickwatch.telemetry.catalog import IngestMetrics

POLL_SOURCES = ("yfinance", "polygon_rest", "alpaca_rest")

__all__ = ["POLL_SOURCES", "PollingSource", "build_poll_source", "build_poll_vendor"]


def build_poll_source(
    settings: Settings,
    metrics: IngestMetrics,
    *,
    state_dir: Path | None = None,
    clock: Clock | None = None,
    rng: Callable[[], float] | None = random.random,
    transport: httpx.AsyncBaseTransport | None = None,
) -> PollingSource:
    """The polling source named by ``settings.ingest.source``; nothing is fetched until iterated.

    Raises PollConfigError (a FatalFeedError) for another source name, no symbols or missing
    credentials, and CheckpointError for an unreadable state file.
    """
    from pipeline.sources.poll.state import PollState

    vendor = build_poll_vendor(settings)
    poll = settings.poll
    state_file = state_dir / "poll" / f"{vendor.name}.json" if state_dir is not None else None
    journal = state_dir / "trades" / f"{vendor.name}.keys" if state_dir is not None else None
    return PollingSource(
        vendor,
        metrics,
        interval_s=poll.interval_s,
        timeout_s=poll.timeout_s,
        backoff=default_backoff(poll.retry_initial_s, poll.retry_max_s, rng),
        state=PollState(state_file),
        ledger=TradeLedger(journal, settings.ingest.dedup_keys),
        duration_s=settings.ingest.duration_s,
        clock=clock,
        transport=transport,
        tls=tls_context(poll.ca_cert),
    )


def tls_context(ca_cert: Path | None) -> ssl.SSLContext | bool:
    """Verification against ``ca_cert`` when set, else the system's trust store.

    Raises PollConfigError naming ``poll.ca_cert`` for a file that cannot be read.
    """
    if ca_cert is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_cert))
    except (OSError, ssl.SSLError) as exc:
        raise PollConfigError(f"poll.ca_cert {ca_cert}: {exc}") from None


def build_poll_vendor(settings: Settings) -> PollVendor:
    """The vendor protocol for ``settings.ingest.source``."""
    name, poll = settings.ingest.source, settings.poll
    if name not in POLL_SOURCES:
        raise PollConfigError(f"{name!r} is not a polling source; choose one of {POLL_SOURCES}")
    symbols = load_symbols(settings.ingest)
    if name == "yfinance":
        return YahooChart(symbols, base_url=poll.yfinance_url)
    credentials = resolve_credentials(settings.sources)
    if name == "polygon_rest":
        return PolygonSnapshots(
            symbols,
            api_key=credentials.polygon_api_key,
            base_url=poll.polygon_url,
            mode=poll.polygon_endpoint,
        )
    return AlpacaSnapshots(
        symbols,
        key_id=credentials.alpaca_key_id,
        secret=credentials.alpaca_secret_key,
        base_url=poll.alpaca_url,
        feed=poll.alpaca_feed,
    )
