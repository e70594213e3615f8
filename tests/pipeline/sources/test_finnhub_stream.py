"""Finnhub against the local fixture server: token, per-symbol subscribe, trades, pings, errors."""

from __future__ import annotations

import pytest

from pipeline.codec import AssetClass, Trade
from pipeline.sources.live import finnhub_map
from pipeline.sources.live.errors import AuthenticationError, FatalFeedError

from .fixtures.finnhub import (
    CRYPTO_TRADE,
    PING,
    STOCK_TRADES,
    FinnhubFixture,
    batch,
    frame,
    trades,
)
from .fixtures.server import Plan
from .helpers import Harness, collect_from, live_settings, run

API_KEY = "finnhub-fixture-token-0001"
RECV = 1763700000123456


def harness(url: str, key: str = API_KEY, symbols: str = "AAPL,BINANCE:BTCUSDT") -> Harness:
    return Harness(live_settings("finnhub", symbols, url, finnhub_api_key=key))


def test_documented_samples_map_field_by_field() -> None:
    first = finnhub_map.trade(STOCK_TRADES["data"][0], RECV)
    assert first == Trade(
        symbol="AAPL", ts=1672348887666000, price=129.58, size=1.0, asset_class=AssetClass.EQUITY,
        conditions=("1", "24", "12"), source="finnhub", recv_ts=RECV, instrument="AAPL",
    )  # fmt: skip
    crypto = finnhub_map.trade(CRYPTO_TRADE["data"][0], RECV)
    assert crypto == Trade(
        symbol="BINANCE:BTCUSDT", ts=1575526691134000, price=7296.89, size=0.011467,
        asset_class=AssetClass.CRYPTO, exchange="BINANCE", source="finnhub", recv_ts=RECV,
        instrument="BTC/USDT", venue="BINANCE",
    )  # fmt: skip
    fx = finnhub_map.trade({"s": "OANDA:EUR_USD", "p": 1.08, "t": 1, "v": 2}, RECV)
    assert (fx.asset_class, fx.instrument, fx.venue) == (AssetClass.FX, "EUR/USD", "OANDA")


def test_token_in_url_subscribe_per_symbol_batches_and_pings() -> None:
    frames = [frame(PING), frame(STOCK_TRADES), frame(CRYPTO_TRADE)]
    fixture = FinnhubFixture(API_KEY, 2, [Plan(frames)])

    h, records = collect_from(fixture.server, harness, 3)
    assert [r.symbol for r in records] == ["AAPL", "AAPL", "BINANCE:BTCUSDT"]
    connection = fixture.server.connections[0]
    assert f"token={API_KEY}" in connection.path
    assert connection.received[:2] == [
        {"type": "subscribe", "symbol": "AAPL"},
        {"type": "subscribe", "symbol": "BINANCE:BTCUSDT"},
    ]
    # Closing the source unsubscribes each symbol before the connection goes.
    assert connection.received[2:] == [
        {"type": "unsubscribe", "symbol": "AAPL"},
        {"type": "unsubscribe", "symbol": "BINANCE:BTCUSDT"},
    ]
    # ping + two trades in one batch + one trade: four vendor messages, nothing dropped.
    assert h.metric("tickwatch_source_messages_total") == 4
    assert h.metric("tickwatch_source_dropped_total", reason="malformed") == 0


def test_price_updates_without_volume_are_not_trades() -> None:
    update = {"s": "OANDA:EUR_USD", "p": 1.0841, "t": 1575526691134, "v": 0}
    sent = trades("AAPL", 1)
    fixture = FinnhubFixture(API_KEY, 1, [Plan([batch(update, *sent)])])

    h, records = collect_from(fixture.server, lambda u: harness(u, symbols="AAPL"), 1)
    assert [r.symbol for r in records] == ["AAPL"]
    assert h.metric("tickwatch_source_dropped_total", reason="price_update_not_trade") == 1


def test_wrong_token_is_an_authentication_failure_without_reconnects() -> None:
    fixture = FinnhubFixture(API_KEY, 1)

    async def scenario() -> Harness:
        async with fixture.server:
            h = harness(fixture.server.url, "wrong-key")
            with pytest.raises(AuthenticationError):
                await h.drain()
            return h

    h = run(scenario())
    assert fixture.server.attempts == 1 and fixture.server.connections == []
    assert h.metric("tickwatch_source_auth_failures_total") == 1


def test_error_messages() -> None:
    # A transient complaint is counted and the stream goes on; a plan limit ends the source.
    sent = trades("AAPL", 1)
    frames = [frame({"type": "error", "msg": "Server busy, retry later"}), batch(*sent)]
    fixture = FinnhubFixture(API_KEY, 1, [Plan(frames)])
    h, records = collect_from(fixture.server, lambda u: harness(u, symbols="AAPL"), 1)
    assert len(records) == 1
    assert h.metric("tickwatch_source_dropped_total", reason="vendor_error") == 1

    limit = FinnhubFixture(
        API_KEY, 1, [Plan([frame({"type": "error", "msg": "Subscribing to too many symbols"})])]
    )

    async def scenario() -> None:
        async with limit.server:
            with pytest.raises(FatalFeedError):
                await harness(limit.server.url, symbols="AAPL").drain()

    run(scenario())
    assert len(limit.server.connections) == 1


def test_disconnect_reconnects_and_subscribes_again() -> None:
    sent = trades("AAPL", 4)
    plans = [Plan([batch(*sent[:2])], then="close"), Plan([batch(*sent[2:])])]
    fixture = FinnhubFixture(API_KEY, 1, plans)

    h, records = collect_from(fixture.server, lambda u: harness(u, symbols="AAPL"), 4)
    assert [r.ts for r in records] == [m["t"] * 1000 for m in sent]
    assert [c.received[0] for c in fixture.server.connections] == [
        {"type": "subscribe", "symbol": "AAPL"}
    ] * 2
    assert h.metric("tickwatch_source_reconnects_total") == 1
