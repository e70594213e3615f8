"""Trades and non-equity bars from the vendor REST clients against the local fixture server:
the documented shapes, pagination that ends inside a microsecond, 429, malformed pages, and
records equal to what the live mappers make of the same trade."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from pipeline.backfill.alpaca import AlpacaBars
from pipeline.backfill.alpaca_trades import AlpacaTrades
from pipeline.backfill.errors import VendorResponseError
from pipeline.backfill.interval import TRADES, Span
from pipeline.backfill.pages import HistorySource
from pipeline.backfill.polygon import PolygonBars
from pipeline.backfill.polygon_trades import PolygonTrades
from pipeline.codec import AssetClass, Bar, Trade
from pipeline.sources.live import alpaca_map, polygon_map
from pipeline.sources.live.trade_ledger import trade_key
from tests.backfill.test_vendor_clients import getter
from tests.backfill.vendor_fixture import (
    ALPACA_KEY_ID,
    ALPACA_SECRET,
    POLYGON_KEY,
    Behaviour,
    FixtureTrade,
    VendorFixture,
    minute_bars,
    trades_at,
)

START_NS = 1_793_629_800_000_000_000  # 2026-11-02 14:30 UTC
COUNT = 250
WINDOW = Span(START_NS // 1000, START_NS // 1000 + 3_600_000_000 - 1)  # one hour
TICKERS = frozenset({"AAPL", "X:BTCUSD", "C:EURUSD", "BTC/USD"})


@pytest.fixture
def behaviour() -> Behaviour:
    return Behaviour(page_size=40)  # 40 a page: pages end inside a microsecond (3 trades each)


@pytest.fixture
def server(behaviour: Behaviour) -> Iterator[VendorFixture]:
    fixture = VendorFixture(
        minute_bars(START_NS // 1_000_000, 120), behaviour,
        trades=trades_at(START_NS, COUNT), tickers=TICKERS,
    )  # fmt: skip
    yield fixture
    fixture.stop()


def polygon_trades(url: str, sleeps: list[float] | None = None) -> PolygonTrades:
    headers = {"Authorization": f"Bearer {POLYGON_KEY}"}
    return PolygonTrades(getter(headers, [] if sleeps is None else sleeps), url, 50_000)


def alpaca_trades(url: str, sleeps: list[float] | None = None) -> AlpacaTrades:
    headers = {"APCA-API-KEY-ID": ALPACA_KEY_ID, "APCA-API-SECRET-KEY": ALPACA_SECRET}
    return AlpacaTrades(getter(headers, [] if sleeps is None else sleeps), url, "sip", 10_000)


def trades_of(source: HistorySource, window: Span = WINDOW) -> list[Trade]:
    out = [r for page in source.pages("AAPL", TRADES, window) for r in page.records]
    assert all(isinstance(t, Trade) for t in out)
    return [t for t in out if isinstance(t, Trade)]


@pytest.mark.parametrize("make", [polygon_trades, alpaca_trades])
def test_every_trade_once_in_order_though_pages_end_inside_a_microsecond(  # type: ignore[no-untyped-def]
    make, server: VendorFixture
) -> None:
    source = make(server.url)
    pages = list(source.pages("AAPL", TRADES, WINDOW))
    got = [t for p in pages for t in p.records]
    assert [t.trade_id for t in got] == [str(1000 + i) for i in range(COUNT)]
    assert len(pages) == 7  # 250 trades, 40 a page
    for page, after in itertools.pairwise(pages):
        # a page covers only the microseconds it holds every trade of
        assert all(t.ts <= page.covered_to_us for t in page.records)
        assert all(t.ts > page.covered_to_us for t in after.records)
    assert pages[-1].covered_to_us == WINDOW.hi_us


@pytest.mark.parametrize("make", [polygon_trades, alpaca_trades])
def test_a_rerun_from_any_watermark_gets_exactly_the_rest(  # type: ignore[no-untyped-def]
    make, server: VendorFixture
) -> None:
    source = make(server.url)
    pages = list(source.pages("AAPL", TRADES, WINDOW))
    for k in range(len(pages) - 1):  # killed after page k was committed
        before = [t.trade_id for p in pages[: k + 1] for t in p.records]
        rest = Span(pages[k].covered_to_us + 1, WINDOW.hi_us)
        after = [t.trade_id for t in trades_of(make(server.url), rest)]
        assert before + after == [str(1000 + i) for i in range(COUNT)], k


def test_polygon_trade_fields_match_the_live_mapper(server: VendorFixture) -> None:
    got = trades_of(polygon_trades(server.url))
    t = got[0]  # exchange 11 (NYSE Arca), condition 37 (odd lot: volume only), tape 3
    assert (t.symbol, t.instrument, t.source, t.asset_class) == (
        "AAPL", "AAPL", "polygon", AssetClass.EQUITY,
    )  # fmt: skip
    assert (t.ts, t.exchange, t.venue, t.tape, t.conditions) == (
        START_NS // 1000, "11", "ARCX", "C", ("37",),
    )  # fmt: skip
    assert (t.updates_open_close, t.updates_high_low, t.updates_volume) == (0, 0, 1)
    live = polygon_map.trade(
        {"ev": "T", "sym": "AAPL", "x": 11, "i": t.trade_id, "z": 3, "p": t.price, "s": t.size,
         "c": [37], "t": START_NS // 1_000_000},
        0,
    )  # fmt: skip
    assert trade_key(live) == trade_key(t)  # the live path's natural key: the same trade
    assert (live.venue, live.tape, live.conditions, live.updates_open_close) == (
        t.venue, t.tape, t.conditions, t.updates_open_close,
    )  # fmt: skip
    assert got[1].updates_open_close == 1 and got[1].venue == "XNAS"


def test_alpaca_trades_go_through_the_live_mapper(server: VendorFixture) -> None:
    got = trades_of(alpaca_trades(server.url))
    t = got[0]  # P = NYSE Arca, condition I (odd lot) on tape C: volume only
    assert (t.ts, t.exchange, t.venue, t.tape, t.conditions, t.trade_id) == (
        START_NS // 1000, "P", "ARCX", "C", ("I",), "1000",
    )  # fmt: skip
    assert (t.updates_open_close, t.updates_high_low, t.updates_volume) == (0, 0, 1)
    live = alpaca_map.trade(
        {"T": "t", "S": "AAPL", "i": 1000, "x": "P", "p": t.price, "s": t.size, "c": ["I"],
         "z": "C", "t": "2026-11-02T14:30:00.000000000Z"},
        0, AssetClass.EQUITY,
    )  # fmt: skip
    assert live == t


@pytest.mark.parametrize("make", [polygon_trades, alpaca_trades])
def test_trades_429_waits_and_continues(  # type: ignore[no-untyped-def]
    make, server: VendorFixture, behaviour: Behaviour
) -> None:
    behaviour.rate_limit_requests, behaviour.retry_after = {2}, "3"
    sleeps: list[float] = []
    assert len(trades_of(make(server.url, sleeps))) == COUNT
    assert sleeps == [3.0]


@pytest.mark.parametrize("make", [polygon_trades, alpaca_trades])
def test_malformed_trades_page_names_the_request(  # type: ignore[no-untyped-def]
    make, server: VendorFixture, behaviour: Behaviour
) -> None:
    behaviour.malformed_request = 3
    with pytest.raises(VendorResponseError) as caught:
        trades_of(make(server.url))
    assert "body is not JSON" in str(caught.value) and "/trades" in str(caught.value)
    assert POLYGON_KEY not in str(caught.value) and ALPACA_SECRET not in str(caught.value)


def test_a_trade_with_a_bad_field_is_a_clear_error(server: VendorFixture) -> None:
    server.trades[5] = FixtureTrade(server.trades[5].sip_ns, "cheap", 1.0, 7, 11)  # type: ignore[arg-type]
    with pytest.raises(VendorResponseError) as caught:
        trades_of(polygon_trades(server.url))
    assert "'price'" in str(caught.value) and "GET http://127.0.0.1" in str(caught.value)
    with pytest.raises(VendorResponseError) as caught:
        trades_of(alpaca_trades(server.url))
    assert "not a number" in str(caught.value)


@pytest.mark.parametrize(
    ("ticker", "asset", "instrument"),
    [("X:BTCUSD", AssetClass.CRYPTO, "BTC/USD"), ("C:EURUSD", AssetClass.FX, "EUR/USD")],
)
def test_polygon_crypto_and_fx_bars(
    server: VendorFixture, ticker: str, asset: AssetClass, instrument: str
) -> None:
    source = PolygonBars(getter({"Authorization": f"Bearer {POLYGON_KEY}"}, []), server.url, 50_000)
    bars = [b for p in source.pages(ticker, 60, WINDOW) for b in p.records]
    assert len(bars) == 60
    assert all(isinstance(b, Bar) for b in bars)
    assert {(b.symbol, b.asset_class, b.instrument) for b in bars} == {(ticker, asset, instrument)}
    assert any(f"/v2/aggs/ticker/{ticker}/range/1/minute/" in r for r in server.behaviour.requests)


def test_alpaca_crypto_bars_from_the_crypto_endpoint(server: VendorFixture) -> None:
    headers = {"APCA-API-KEY-ID": ALPACA_KEY_ID, "APCA-API-SECRET-KEY": ALPACA_SECRET}
    source = AlpacaBars(getter(headers, []), server.url, "iex", 10_000)
    bars = [b for p in source.pages("BTC/USD", 60, WINDOW) for b in p.records]
    assert len(bars) == 60
    assert {(b.symbol, b.asset_class, b.instrument) for b in bars} == {
        ("BTC/USD", AssetClass.CRYPTO, "BTC/USD")
    }
    first = server.behaviour.requests[0]
    assert first.startswith("/v1beta3/crypto/us/bars?") and "symbols=BTC%2FUSD" in first
    assert "feed=" not in first and "adjustment=" not in first


@pytest.mark.parametrize("make", [polygon_trades, alpaca_trades])
def test_a_span_ending_at_a_microsecond_gets_every_trade_of_it(  # type: ignore[no-untyped-def]
    make, server: VendorFixture
) -> None:
    first_us = START_NS // 1000  # three trades at +0, +100 and +200 ns: all truncate to it
    got = trades_of(make(server.url), Span(first_us, first_us))
    assert [t.trade_id for t in got] == ["1000", "1001", "1002"]


def test_the_live_ingest_ledger_knows_a_backfilled_trade_read_back_from_kafka(
    server: VendorFixture,
) -> None:
    """The live path's guard: after a restart the ingest worker reads the trades topic back
    (ledger_recovery) and remembers each trade's key; a backfilled trade on the wire gives the
    same key as the streamed trade, so the stream's copy is dropped as a duplicate."""
    from pipeline.codec import to_wire
    from pipeline.sources.live.trade_ledger import TradeLedger

    backfilled = trades_of(polygon_trades(server.url))[0]
    ledger = TradeLedger(None, 100)
    assert ledger.remember_wire(dict(to_wire(backfilled, 1)))
    streamed = polygon_map.trade(
        {"ev": "T", "sym": "AAPL", "x": 11, "i": backfilled.trade_id, "z": 3, "p": 1.0, "s": 1,
         "t": START_NS // 1_000_000},
        0,
    )  # fmt: skip
    assert not ledger.admit(streamed)
