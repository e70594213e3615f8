"""Polling sources against the local fixture server (tests/fixtures/poll_vendors.py), with a
manual clock: only what is new is handed out, forming bars wait until they close, 429/5xx back
off, malformed answers are skipped and counted, 401/403 stop the source, state survives a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pipeline.codec import Bar, Quote, Record, Trade
from pipeline.sources import build_source
from pipeline.sources.live.errors import FatalFeedError
from pipeline.sources.poll import build_poll_source
from pipeline.sources.poll.errors import PollAuthError, PollConfigError
from pipeline.sources.poll.source import PollingSource
from tests.fixtures.poll_vendors import (
    ALPACA_KEY_ID,
    ALPACA_SECRET,
    POLYGON_KEY,
    Fail,
    Market,
    Minute,
    PollVendorFixture,
)
from tickwatch.clock import DEFAULT_START, ManualClock
from tickwatch.settings import ConfigError, Settings, SourceCredentials, load_settings
from tickwatch.telemetry.catalog import IngestMetrics

T0 = int(DEFAULT_START)  # a whole minute
NS = 1_000_000_000
A, B = Minute(T0 - 120), Minute(T0 - 60, c=100.7)
C_FORMING, C_CLOSED = Minute(T0 + 120, c=100.9), Minute(T0 + 120, h=102.0, c=101.5, v=1500.0)
FIRST = Market((A, B), ("1001", (T0 - 5) * NS + 123_456_789, 100.5, 10.0),
               ((T0 - 4) * NS, 100.4, 3.0, 100.6, 4.0))  # fmt: skip
SECOND = Market((A, B, C_FORMING), ("1002", (T0 + 121) * NS, 100.9, 5.0),
                ((T0 + 122) * NS, 100.8, 2.0, 101.0, 1.0))  # fmt: skip
THIRD = Market((A, B, C_CLOSED), SECOND.trade, SECOND.quote)
NOT_JSON = b'{"chart": {"result": [ '
SCRIPT: list[Market | Fail] = [
    FIRST,  # T0: everything is new (Yahoo lists every minute, snapshots only the last)
    FIRST,  # T0+60: all repeats
    Fail(429, retry_after="5"),  # T0+120: backoff, at least Retry-After
    SECOND,  # T0+125: new trade and quote; minute C still forming
    Fail(503),  # T0+185: backoff
    Fail(200, NOT_JSON),  # T0+186: malformed, skipped and counted
    THIRD,  # T0+246: minute C closed, changed values: emitted once
]


@pytest.fixture
def vendor() -> Iterator[PollVendorFixture]:
    fixture = PollVendorFixture(SCRIPT)
    yield fixture
    fixture.stop()


CREDENTIALS = SourceCredentials(
    polygon_api_key=POLYGON_KEY, alpaca_key_id=ALPACA_KEY_ID, alpaca_secret_key=ALPACA_SECRET
)
URLS = ("yfinance_url", "polygon_url", "alpaca_url")


def poll_settings(source: str, url: str, duration_s: float = 300.0, **poll: Any) -> Settings:
    fast = {"interval_s": 60, "retry_initial_s": 1, "retry_max_s": 30}
    return load_settings(
        _env_file=None,
        ingest={"source": source, "symbol_list": "AAPL", "duration_s": duration_s},
        sources=CREDENTIALS,
        poll=fast | dict.fromkeys(URLS, url) | poll,
    )


def source_for(
    settings: Settings, state_dir: Path | None = None
) -> tuple[PollingSource, CollectorRegistry, ManualClock]:
    registry, clock = CollectorRegistry(), ManualClock()
    source = build_poll_source(
        settings, IngestMetrics(registry), state_dir=state_dir, clock=clock, rng=lambda: 1.0
    )
    return source, registry, clock


def drain(source: PollingSource) -> list[Record]:
    async def run() -> list[Record]:
        return [r async for batch in source.batches() for r in batch]

    return asyncio.run(run())


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("name", ["yfinance", "polygon_rest", "alpaca_rest"])
def test_each_poll_emits_only_what_is_new(name: str, vendor: PollVendorFixture) -> None:
    source, registry, _ = source_for(poll_settings(name, vendor.url))
    records = drain(source)
    bars = [r for r in records if isinstance(r, Bar)]
    expected_bars = [A, B, C_CLOSED] if name == "yfinance" else [B, C_CLOSED]
    assert [(b.ts // 1_000_000, b.close, b.interval_s) for b in bars] == [
        (m.t_s, m.c, 60) for m in expected_bars
    ]
    trades = [r for r in records if isinstance(r, Trade)]
    quotes = [r for r in records if isinstance(r, Quote)]
    if name == "yfinance":  # the chart API has no bid/ask and no trades
        assert not trades and not quotes
    else:
        assert [t.trade_id for t in trades] == ["1001", "1002"]
        assert trades[0].ts == (T0 - 5) * 1_000_000 + 123_456  # ns truncated to µs
        assert [q.ts for q in quotes] == [(T0 - 4) * 1_000_000, (T0 + 122) * 1_000_000]
        assert quotes[0].bid_size == 300.0 and quotes[0].lot_size == 100  # round lots → shares
    keys = [(r.kind, r.ts) for r in records]
    assert len(keys) == len(set(keys))
    repeats = sum(
        metric(registry, "tickwatch_source_repeats_skipped_total", source=name, type=kind)
        for kind in ("bar", "quote", "trade")
    )
    assert repeats > 0
    err = "tickwatch_source_poll_errors_total"
    assert metric(registry, err, source=name, reason="rate_limited") == 1
    assert metric(registry, err, source=name, reason="server_error") == 1
    assert metric(registry, err, source=name, reason="malformed") == 1
    assert metric(registry, "tickwatch_source_polls_total", source=name, outcome="failed") == 2
    assert metric(registry, "tickwatch_source_polls_total", source=name, outcome="ok") >= 4
    assert metric(registry, "tickwatch_source_dropped_total", source=name,
                  reason="bar_not_closed") >= 1  # fmt: skip


def test_a_429_waits_at_least_retry_after(vendor: PollVendorFixture) -> None:
    vendor.set_script([Fail(429, retry_after="42"), FIRST])
    source, _, clock = source_for(poll_settings("yfinance", vendor.url, duration_s=50))
    start = clock.time()
    records = drain(source)
    assert records  # the second poll got through
    assert len(vendor.script.requests) == 2  # no poll inside the 42 s the server asked for
    assert clock.time() - start >= 42


def test_a_restart_with_the_state_dir_emits_nothing_twice(
    vendor: PollVendorFixture, tmp_path: Path
) -> None:
    vendor.set_script([FIRST])
    first, _, _ = source_for(poll_settings("polygon_rest", vendor.url, 10), tmp_path)
    assert len(drain(first)) == 3  # bar B, the trade, the quote
    first.checkpoint()
    again, registry, _ = source_for(poll_settings("polygon_rest", vendor.url, 10), tmp_path)
    assert drain(again) == []
    assert metric(registry, "tickwatch_source_repeats_skipped_total",
                  source="polygon_rest", type="trade") >= 1  # fmt: skip
    vendor.set_script([SECOND])
    third, _, _ = source_for(poll_settings("polygon_rest", vendor.url, 10), tmp_path)
    assert {type(r) for r in drain(third)} == {Trade, Quote}  # C still forming: no bar


def test_polygon_last_trade_and_nbbo_mode(vendor: PollVendorFixture) -> None:
    vendor.set_script([FIRST])
    settings = poll_settings("polygon_rest", vendor.url, 100, polygon_endpoint="last")
    source, _, _ = source_for(settings)
    records = drain(source)
    assert sorted(type(r).__name__ for r in records) == ["Quote", "Trade"]
    quote = next(r for r in records if isinstance(r, Quote))
    assert (quote.bid_size, quote.ask_size, quote.lot_size) == (3.0, 4.0, 1)  # shares as sent
    assert all(p.startswith("/v2/last/") for p in vendor.script.requests)


@pytest.mark.parametrize(
    ("name", "status", "setting"),
    [("polygon_rest", 401, "sources.polygon_api_key"),
     ("alpaca_rest", 403, "sources.alpaca_key_id"), ("yfinance", 401, "Yahoo")],
)  # fmt: skip
def test_auth_failure_is_fatal_and_names_the_setting(
    name: str, status: int, setting: str, vendor: PollVendorFixture
) -> None:
    vendor.set_script([Fail(status)])
    settings = poll_settings(name, vendor.url)
    wrong = SourceCredentials(
        polygon_api_key="pk-wrong",
        alpaca_key_id="AKWRONG",
        alpaca_secret_key="wrong",  # noqa: S106 (a wrong key on purpose)
    )
    settings = settings.model_copy(update={"sources": wrong})
    source, registry, _ = source_for(settings)
    with pytest.raises(PollAuthError) as caught:
        drain(source)
    assert setting in str(caught.value) and f"HTTP {status}" in str(caught.value)
    assert "wrong" not in str(caught.value).replace("rejected", "")
    assert metric(registry, "tickwatch_source_auth_failures_total", source=name) == 1
    assert len(vendor.script.requests) <= 1  # no retry storm


def test_start_up_checks() -> None:
    with pytest.raises(ConfigError, match="TICKWATCH_POLL_POLYGON_URL"):
        load_settings(_env_file=None, poll={"polygon_url": "ftp://nowhere"})
    with pytest.raises(ConfigError, match="TICKWATCH_POLL_INTERVAL_S"):
        load_settings(_env_file=None, poll={"interval_s": 0})
    missing = load_settings(_env_file=None, ingest={"source": "alpaca_rest", "symbol_list": "AAPL"})
    with pytest.raises(PollConfigError, match="TICKWATCH_SOURCES_ALPACA_KEY_ID"):
        build_source(missing)
    bad_ca = load_settings(
        _env_file=None, ingest={"source": "yfinance", "symbol_list": "AAPL"},
        poll={"ca_cert": "/nonexistent/ca.pem"},
    )  # fmt: skip
    with pytest.raises(PollConfigError, match=r"poll\.ca_cert /nonexistent/ca\.pem"):
        build_source(bad_ca)
    no_symbols = load_settings(_env_file=None, ingest={"source": "yfinance"})
    with pytest.raises(FatalFeedError, match="TICKWATCH_INGEST_SYMBOL_LIST"):
        build_source(no_symbols)
