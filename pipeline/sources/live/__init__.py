"""Live vendor feeds over WebSocket: Alpaca, Polygon, Binance, Coinbase, Finnhub.

The ingest worker calls :func:`build_live_source` when ``settings.ingest.source`` names a
vendor. Endpoints default to the vendors' production URLs and are overridden with
``settings.sources.<vendor>_url`` (tests point them at local fixture servers). Credentials come
from settings or the TOML secrets file (:mod:`pipeline.sources.live.credentials`); symbols from
``settings.ingest.symbol_list`` or ``symbols_file`` (:mod:`pipeline.sources.live.symbols`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from pipeline.sources.live.alpaca import AlpacaVendor
from pipeline.sources.live.binance import BinanceVendor
from pipeline.sources.live.client import WebSocketSource
from pipeline.sources.live.coinbase import CoinbaseVendor
from pipeline.sources.live.credentials import resolve_credentials
from pipeline.sources.live.errors import FatalFeedError
from pipeline.sources.live.finnhub import FinnhubVendor
from pipeline.sources.live.instruments import polygon_exchange_table, use_polygon_crypto_venues
from pipeline.sources.live.polygon import PolygonVendor
from pipeline.sources.live.session import Vendor
from pipeline.sources.live.stall import ConnectionPolicy
from pipeline.sources.live.symbols import load_symbols
from pipeline.sources.live.trade_ledger import TradeLedger
from tickwatch.clock import Clock
from tickwatch.market_hours import MarketOpen, TradingHours
from tickwatch.settings import Settings
from tickwatch.telemetry.catalog import IngestMetrics

LIVE_SOURCES = ("alpaca", "polygon", "binance", "coinbase", "finnhub")

__all__ = [
    "LIVE_SOURCES",
    "WebSocketSource",
    "build_live_source",
    "live_asset_class",
    "live_market",
]


def build_live_source(
    settings: Settings,
    metrics: IngestMetrics,
    *,
    clock: Clock | None = None,
    rng: Callable[[], float] = random.random,
    state_dir: Path | None = None,
) -> WebSocketSource:
    """The live source named by ``settings.ingest.source``; nothing connects until iterated.

    ``state_dir`` holds the source's trade ledger (``trades/<source>.keys``) so trades handed
    out before a restart are not handed out again; without it the ledger lives in memory only
    (still across reconnects).

    Raises :class:`~pipeline.sources.live.errors.FatalFeedError` for a source that is not a
    live vendor, missing symbols, missing credentials or an unreadable secrets file.
    """
    vendor = build_vendor(settings)
    sources = settings.sources
    policy = ConnectionPolicy(
        stall_timeout_s=sources.stall_timeout_s,
        reconnect_initial_s=sources.reconnect_initial_s,
        reconnect_max_s=max(sources.reconnect_max_s, sources.reconnect_initial_s),
        duration_s=settings.ingest.duration_s,
    )
    journal = state_dir / "trades" / f"{vendor.name}.keys" if state_dir is not None else None
    ledger = TradeLedger(journal, settings.ingest.dedup_keys)
    return WebSocketSource(vendor, metrics, policy, clock=clock, rng=rng, ledger=ledger)


def build_vendor(settings: Settings) -> Vendor:
    """The vendor protocol for ``settings.ingest.source``."""
    name, sources = settings.ingest.source, settings.sources
    if name not in LIVE_SOURCES:
        raise FatalFeedError(f"{name!r} is not a live source; choose one of {LIVE_SOURCES}")
    symbols = load_symbols(settings.ingest)
    market = live_market(settings)
    if name == "binance":
        return BinanceVendor(symbols, market=market, url=sources.binance_url)
    if name == "coinbase":
        return CoinbaseVendor(symbols, market=market, url=sources.coinbase_url)
    credentials = resolve_credentials(sources)
    if name == "finnhub":
        return FinnhubVendor(
            symbols, api_key=credentials.finnhub_api_key, market=market, url=sources.finnhub_url
        )
    if name == "polygon":
        if sources.polygon_crypto_exchanges_file is not None:
            use_polygon_crypto_venues(crypto_exchanges(sources.polygon_crypto_exchanges_file))
        return PolygonVendor(
            symbols,
            api_key=credentials.polygon_api_key,
            cluster=sources.polygon_cluster,
            market=market,
            url=sources.polygon_url,
        )
    return AlpacaVendor(
        symbols,
        key_id=credentials.alpaca_key_id,
        secret=credentials.alpaca_secret_key,
        feed=sources.alpaca_feed,
        market=market,
        url=sources.alpaca_url,
    )


def crypto_exchanges(path: Path) -> dict[str, str]:
    """``sources.polygon_crypto_exchanges_file`` read as the vendor's exchanges answer.

    Raises FatalFeedError naming the setting and the file when it cannot be read or parsed.
    """
    try:
        return polygon_exchange_table(path.read_bytes(), "crypto")
    except (OSError, ValueError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise FatalFeedError(f"sources.polygon_crypto_exchanges_file {path}: {exc}") from None


def live_asset_class(settings: Settings) -> str:
    """The asset class a live source's symbols belong to (what its feed carries)."""
    name, sources = settings.ingest.source, settings.sources
    crypto = (
        name in ("binance", "coinbase")
        or (name == "polygon" and sources.polygon_cluster == "crypto")
        or (name == "alpaca" and sources.alpaca_feed == "crypto")
        # Finnhub's crypto and FX symbols carry an exchange prefix (BINANCE:BTCUSDT); any of
        # them keeps the feed busy around the clock
        or (name == "finnhub" and any(":" in s for s in load_symbols(settings.ingest)))
    )
    return "crypto" if crypto else "equity"


def live_market(settings: Settings) -> MarketOpen:
    """When silence on the connection is a stall: the trading hours of the feed's asset class.

    Raises ``CalendarNameError`` (a ``ValueError``) for a bad ``hours.*`` setting.
    """
    hours = TradingHours(settings.hours.calendars, settings.hours.exchanges)
    return hours.calendar(live_asset_class(settings))
