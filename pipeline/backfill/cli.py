"""``tickwatch backfill`` and ``tickwatch gaps``: set-up, run, report.

Set-up: endpoints (settings, else the local stack the composition root passes) → vendor
credentials (``sources.*`` or ``sources.secrets_file``) → the bar or trade source → ClickHouse
(the load role) → the ledger topic → one :class:`~pipeline.backfill.engine.Backfill`.
Trades are checked first against what the load worker accepts (``load.max_past_s``) and end
:data:`~pipeline.backfill.gaps.GAP_SETTLE_S` before now (pipeline/backfill/loaded.py says why).
Exit codes: 0 done, 1 a vendor, Kafka or ClickHouse failed (re-run to continue from the
watermark), 2 a bad request or configuration (named).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

import httpx
from clickhouse_connect.driver.exceptions import ClickHouseError
from confluent_kafka import Producer
from rich.console import Console

from pipeline.backfill.alpaca import AlpacaBars
from pipeline.backfill.alpaca_trades import AlpacaTrades
from pipeline.backfill.engine import Backfill, SymbolReport, Topics
from pipeline.backfill.errors import BackfillConfigError, BackfillError
from pipeline.backfill.gaps import loaded_minutes, missing_minutes
from pipeline.backfill.http import JsonGetter
from pipeline.backfill.inflight import InFlight
from pipeline.backfill.interval import TRADES, WHAT, Span, interval_seconds, iso, span
from pipeline.backfill.ledger import Mirror, ensure_topic
from pipeline.backfill.loaded import Loaded, LoadedBars, LoadedTrades
from pipeline.backfill.pages import HistorySource
from pipeline.backfill.polygon import PolygonBars
from pipeline.backfill.polygon_trades import PolygonTrades
from pipeline.backfill.progress import BarProgress, LogProgress
from pipeline.backfill.replay import ReplayBars
from pipeline.backfill.symbols import of
from pipeline.backfill.trades_window import trade_spans
from pipeline.codec import AssetClass
from pipeline.errors import SourceError
from pipeline.producer import producer_config
from pipeline.sources.live.credentials import resolve_credentials
from pipeline.sources.live.errors import FatalFeedError
from tickwatch.backoff import Backoff
from tickwatch.clients import clickhouse_client, kafka_config
from tickwatch.clock import SystemClock
from tickwatch.endpoints import EndpointError, LocalAddresses, resolve_endpoints
from tickwatch.market_hours import CalendarNameError, from_settings
from tickwatch.settings import Settings

SOURCES = ("polygon", "alpaca", "replay")
out = Console()
err = Console(stderr=True)


def history_source(
    settings: Settings, name: str, client: httpx.Client, *, trades: bool = False
) -> HistorySource:
    """The bar (or trade) source called ``name``; BackfillConfigError names a missing
    credential or a source without trades."""
    b = settings.backfill
    if name == "replay":
        if trades:
            raise BackfillConfigError("--what trades: --source replay backfills bars only")
        if b.replay_path is None:
            raise BackfillConfigError("--source replay needs backfill.replay_path")
        return ReplayBars(b.replay_path, b.page_limit)
    if name not in SOURCES:
        raise BackfillConfigError(f"--source {name!r}: expected one of {list(SOURCES)}")
    creds = resolve_credentials(settings.sources)
    backoff = Backoff(b.retry_initial_s, max(b.retry_max_s, b.retry_initial_s))
    if name == "polygon":
        key = creds.polygon_api_key.get_secret_value()
        if not key:
            raise BackfillConfigError("--source polygon needs sources.polygon_api_key")
        headers = {"Authorization": f"Bearer {key}"}
        getter = _getter(client, backoff, b.max_retries, headers)
        if trades:
            return PolygonTrades(getter, b.polygon_url, b.page_limit)
        return PolygonBars(getter, b.polygon_url, b.page_limit)
    key_id, secret = creds.alpaca_key_id.get_secret_value(), creds.alpaca_secret_key
    if not key_id or not secret.get_secret_value():
        raise BackfillConfigError(
            "--source alpaca needs sources.alpaca_key_id and sources.alpaca_secret_key"
        )
    headers = {"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret.get_secret_value()}
    getter = _getter(client, backoff, b.max_retries, headers)
    if trades:
        return AlpacaTrades(getter, b.alpaca_url, b.alpaca_feed, b.page_limit)
    return AlpacaBars(getter, b.alpaca_url, b.alpaca_feed, b.page_limit)


def _getter(
    client: httpx.Client, backoff: Backoff, retries: int, headers: dict[str, str]
) -> JsonGetter:
    return JsonGetter(
        client, backoff, retries, sleep=time.sleep, clock=SystemClock(), headers=headers
    )


def run_backfill(
    settings: Settings,
    local: LocalAddresses | None,
    *,
    source: str,
    symbols: Sequence[str],
    spans: Sequence[Span],
    interval: str,
    what: str = "bars",
) -> int:
    """Run one backfill; return the exit code (errors are printed, never a credential)."""
    try:
        trades = _what(what)
        if trades:
            _stocks_only(source, symbols)
            spans = trade_spans(spans, settings.load.max_past_s, time.time())
        step = TRADES if trades else interval_seconds(interval)
        with ExitStack() as stack:
            backfill = _build(settings, local, source, stack, trades=trades)
            reports = backfill.run(symbols, step, spans)
    except (BackfillConfigError, EndpointError, FatalFeedError, CalendarNameError) as exc:
        err.print(f"[red]tickwatch backfill: {exc}[/red]")
        return 2
    except (BackfillError, SourceError, ClickHouseError, OSError) as exc:
        err.print(f"[red]tickwatch backfill: {exc}[/red]")
        err.print("re-run the same command to continue from the last committed page")
        return 1
    _print(reports, "trades" if trades else "bars")
    return 0


def _what(what: str) -> bool:
    """True for ``--what trades``; BackfillConfigError for anything but bars or trades."""
    if what not in WHAT:
        raise BackfillConfigError(f"--what {what!r}: expected one of {list(WHAT)}")
    return what == "trades"


def _stocks_only(source: str, symbols: Sequence[str]) -> None:
    """Trades come from the vendors' stock trades endpoints only."""
    for symbol in symbols:
        if of(symbol).asset_class is not AssetClass.EQUITY:
            raise BackfillConfigError(
                f"--what trades --symbols {symbol}: trades are backfilled for US stocks only "
                "(Polygon /v3/trades, Alpaca /v2/stocks/{symbol}/trades)"
            )


def _build(
    settings: Settings,
    local: LocalAddresses | None,
    source: str,
    stack: ExitStack,
    *,
    trades: bool,
) -> Backfill:
    ends = resolve_endpoints(settings, require=("kafka", "clickhouse"), local=local)
    b, kafka = settings.backfill, settings.kafka
    http = stack.enter_context(httpx.Client(timeout=b.request_timeout_s))
    records = history_source(settings, source, http, trades=trades)
    try:
        client = clickhouse_client(settings.clickhouse.as_role("load"), ends.clickhouse_url)
    except ClickHouseError as exc:
        url = ends.clickhouse_url
        raise BackfillError(f"ClickHouse at {url} is not reachable: {exc}") from None
    stack.callback(client.close)
    consumer_conf = kafka_config(kafka, ends.kafka_bootstrap)
    ensure_topic(consumer_conf, b.topic_ledger, kafka.replication_factor)
    extra: dict[str, Any] = {
        "client.id": "tickwatch-backfill", "transaction.timeout.ms": b.transaction_timeout_ms,
    }  # fmt: skip
    progress: BarProgress | LogProgress = BarProgress(err) if err.is_terminal else LogProgress()
    stack.enter_context(progress)
    clock = SystemClock()
    market = settings.clickhouse.market_database
    topic = kafka.topic_trades if trades else kafka.topic_bars
    in_flight = InFlight(consumer_conf, topic, kafka.consumer_group)
    loaded: Loaded = (
        LoadedTrades(client, market, records.name, in_flight) if trades
        else LoadedBars(client, market, records.name, in_flight)
    )  # fmt: skip
    return Backfill(
        source=records, producer_factory=Producer,
        producer_config=producer_config(settings, ends.kafka_bootstrap, **extra),
        consumer_config=consumer_conf, topics=Topics(topic, b.topic_ledger), loaded=loaded,
        mirror=Mirror(client, settings.clickhouse.ops_database, clock), clock=clock,
        progress=progress,
    )  # fmt: skip


def _print(reports: list[SymbolReport], what: str) -> None:
    for r in reports:
        if not r.spans:
            out.print(f"{r.symbol}: already covered by earlier runs, nothing to fetch")
            continue
        out.print(
            f"{r.symbol}: {r.produced} {what} produced in {r.pages} committed pages, "
            f"{r.skipped_loaded} already in market.{what} skipped; spans "
            + ", ".join(f"{iso(s.lo_us)}..{iso(s.hi_us)}" for s in r.spans)
        )


def run_gaps(
    settings: Settings,
    local: LocalAddresses | None,
    symbols: Sequence[str],
    first: str,
    last: str,
    *,
    asset_class: str | None,
    backfill: bool,
    source: str,
) -> int:
    """List the gaps; with ``backfill`` fill them from ``source``. Returns the exit code.

    Each symbol's trading hours are ``asset_class``'s, or by default its own asset class by its
    spelling (``X:BTCUSD``, ``BTC/USD`` crypto 24/7, ``C:EURUSD`` FX 24/5, ``AAPL`` equity)."""
    try:
        window = span(first, last)
        hours = from_settings(settings)
        calendars = {s: hours.calendar(asset_class or of(s).asset_class.value) for s in symbols}
        ends = resolve_endpoints(settings, require=("clickhouse",), local=local)
        client = clickhouse_client(settings.clickhouse.as_role("load"), ends.clickhouse_url)
    except (BackfillConfigError, EndpointError, CalendarNameError) as exc:
        err.print(f"[red]tickwatch gaps: {exc}[/red]")
        return 2
    except (ClickHouseError, OSError) as exc:
        err.print(f"[red]tickwatch gaps: ClickHouse: {exc}[/red]")
        return 1
    now_us = int(time.time() * 1e6)
    found: dict[str, list[Span]] = {}
    try:
        for symbol in symbols:
            loaded = loaded_minutes(client, settings.clickhouse.market_database, symbol, window)
            found[symbol] = missing_minutes(calendars[symbol], loaded, window, now_us)
    finally:
        client.close()
    _print_gaps(found)
    todo = {s: g for s, g in found.items() if g}
    if not backfill or not todo:
        return 0
    code = 0
    for symbol, gaps in todo.items():
        code = max(
            code,
            run_backfill(
                settings, local, source=source, symbols=[symbol], spans=gaps, interval="1m"
            ),
        )
    return code


def _print_gaps(found: dict[str, list[Span]]) -> None:
    for symbol, gaps in found.items():
        minutes = sum((g.hi_us - g.lo_us) // 60_000_000 + 1 for g in gaps)
        out.print(f"{symbol}: {minutes} open-market minutes without a 1-minute bar")
        for g in gaps:
            n = (g.hi_us - g.lo_us) // 60_000_000 + 1
            out.print(f"  {iso(g.lo_us)} .. {iso(g.hi_us)}  ({n} min)")
