"""Polygon against the local fixture server: stocks and crypto clusters, failures, reconnects."""

from __future__ import annotations

import pytest

from pipeline.codec import AssetClass, Bar, Quote, Trade
from pipeline.sources.live.errors import AuthenticationError

from .fixtures.polygon import (
    CRYPTO_MINUTE,
    CRYPTO_QUOTE,
    CRYPTO_TRADE,
    MINUTE,
    QUOTE,
    TRADE,
    PolygonFixture,
    frame,
    trades,
)
from .fixtures.server import Plan
from .helpers import Harness, collect_from, live_settings, run, trade_ids

API_KEY = "polygon-fixture-api-key-0001"


def harness(
    url: str, key: str = API_KEY, cluster: str = "stocks", symbols: str = "MSFT"
) -> Harness:
    settings = live_settings("polygon", symbols, url, polygon_api_key=key, polygon_cluster=cluster)
    return Harness(settings)


def test_stocks_handshake_and_documented_samples() -> None:
    fixture = PolygonFixture(API_KEY, [Plan([frame(TRADE, QUOTE), frame(MINUTE)])])

    _, (trade, quote, bar) = collect_from(fixture.server, harness, 3)
    assert isinstance(trade, Trade) and trade.ts == 1536036818784000 and trade.exchange == "4"
    assert isinstance(quote, Quote) and (quote.bid_exchange, quote.ask_exchange) == ("4", "7")
    assert isinstance(bar, Bar) and bar.interval_s == 60 and bar.ts == 1610144640000000
    auth, subscribe = fixture.server.connections[0].received
    assert auth == {"action": "auth", "params": API_KEY}
    assert subscribe == {"action": "subscribe", "params": "T.MSFT,Q.MSFT,A.MSFT,AM.MSFT"}


def test_crypto_cluster_subscribes_crypto_channels() -> None:
    frames = [frame(CRYPTO_TRADE, CRYPTO_QUOTE, CRYPTO_MINUTE)]
    fixture = PolygonFixture(API_KEY, [Plan(frames)])

    _, records = collect_from(
        fixture.server, lambda url: harness(url, cluster="crypto", symbols="BTC-USD"), 3
    )
    assert {r.asset_class for r in records} == {AssetClass.CRYPTO}
    subscribe = fixture.server.connections[0].received[1]
    assert subscribe["params"] == "XT.BTC-USD,XQ.BTC-USD,XA.BTC-USD,XAS.BTC-USD"


def test_auth_failure_is_fatal() -> None:
    fixture = PolygonFixture(API_KEY)

    async def scenario() -> Harness:
        async with fixture.server:
            h = harness(fixture.server.url, key="wrong-key")
            with pytest.raises(AuthenticationError):
                await h.drain()
            return h

    h = run(scenario())
    assert len(fixture.server.connections) == 1
    assert h.metric("tickwatch_source_auth_failures_total") == 1


def test_disconnect_reconnects_resubscribes_and_drops_the_repeated_trade() -> None:
    sent = trades("MSFT", 5)
    # The second connection repeats the last trade of the first (same q, same trade id).
    plans = [Plan([frame(*sent[:3])], then="close"), Plan([frame(*sent[2:])])]
    fixture = PolygonFixture(API_KEY, plans)

    h, records = collect_from(fixture.server, harness, 5)
    # Sequence checks are per connection, but the natural key (symbol, exchange, trade id, day)
    # is guarded across connections: the repeat is dropped as a duplicate (issue 13 §5).
    assert trade_ids(records) == ["900", "901", "902", "903", "904"]
    assert h.metric("tickwatch_source_dropped_total", reason="duplicate") == 1
    assert [len(c.received) for c in fixture.server.connections] == [2, 2]
    assert h.metric("tickwatch_source_reconnects_total") == 1


def test_stale_sequence_on_one_connection_is_dropped() -> None:
    sent = trades("MSFT", 3)
    fixture = PolygonFixture(
        API_KEY, [Plan([frame(*sent), frame(sent[1]), frame(*trades("MSFT", 1, 9))])]
    )

    h, records = collect_from(fixture.server, harness, 4)
    assert len(records) == 4
    assert h.metric("tickwatch_source_dropped_total", reason="stale") == 1


def test_max_connections_backs_off_then_recovers() -> None:
    fixture = PolygonFixture(API_KEY, [Plan(), Plan([frame(TRADE)])], max_connections={0})

    h, _ = collect_from(fixture.server, harness, 1)
    assert len(h.clock.sleeps) == 1
    assert h.metric("tickwatch_source_reconnects_total") == 1
    assert h.metric("tickwatch_source_auth_failures_total") == 0


def test_malformed_frames_are_counted() -> None:
    frames = ["[1, 2", frame({"ev": "T", "sym": "MSFT"}, {"ev": "LULD"}), "42", frame(TRADE)]
    fixture = PolygonFixture(API_KEY, [Plan(frames)])

    h, _ = collect_from(fixture.server, harness, 1)
    assert h.metric("tickwatch_source_dropped_total", reason="malformed") == 3
    assert h.metric("tickwatch_source_dropped_total", reason="unknown_type") == 1
