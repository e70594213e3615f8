"""Coinbase against the local fixture server: subscribe, matches, gaps, errors, reconnects."""

from __future__ import annotations

import pytest

from pipeline.codec import Quote, Trade
from pipeline.sources.live.errors import FatalFeedError

from .fixtures.coinbase import HEARTBEAT, MATCH, TICKER, CoinbaseFixture, frame, matches
from .fixtures.server import Plan
from .helpers import Harness, collect_from, live_settings, run, trade_ids


def harness(url: str, products: str = "BTC-USD,ETH-USD") -> Harness:
    return Harness(live_settings("coinbase", products, url))


def test_subscribes_and_maps_documented_samples() -> None:
    fixture = CoinbaseFixture([Plan([frame(HEARTBEAT), frame(MATCH), frame(TICKER)])])

    _, (trade, quote) = collect_from(fixture.server, harness, 2)
    assert isinstance(trade, Trade) and trade.trade_id == "10" and trade.conditions == ("B",)
    assert isinstance(quote, Quote) and quote.symbol == "ETH-USD"
    assert fixture.server.connections[0].received == [
        {
            "type": "subscribe",
            "product_ids": ["BTC-USD", "ETH-USD"],
            "channels": ["matches", "ticker", "heartbeat"],
        }
    ]


def test_reconnect_resubscribes_and_drops_the_replayed_last_match() -> None:
    first = matches("BTC-USD", 3)
    # After resubscribing Coinbase sends last_match: the trade already delivered (id 3).
    second = matches("BTC-USD", 1, start_id=3, kind="last_match") + matches("BTC-USD", 2, 4)
    fixture = CoinbaseFixture([Plan(first, then="close"), Plan(second)])

    h, records = collect_from(fixture.server, lambda url: harness(url, "BTC-USD"), 5)
    assert trade_ids(records) == ["1", "2", "3", "4", "5"]
    assert [len(c.received) for c in fixture.server.connections] == [1, 1]
    assert h.metric("tickwatch_source_dropped_total", reason="stale") == 1
    assert h.metric("tickwatch_source_reconnects_total") == 1


def test_trade_id_gap_is_counted() -> None:
    frames = matches("BTC-USD", 2) + matches("BTC-USD", 1, start_id=7)
    fixture = CoinbaseFixture([Plan(frames)])

    h, _ = collect_from(fixture.server, lambda url: harness(url, "BTC-USD"), 3)
    assert h.metric("tickwatch_source_dropped_total", reason="sequence_gap") == 4


def test_rate_limit_error_backs_off_then_recovers() -> None:
    fixture = CoinbaseFixture([Plan(), Plan([frame(MATCH)])], errors={0: "rate limit exceeded"})

    h, _ = collect_from(fixture.server, harness, 1)
    assert len(h.clock.sleeps) == 1
    assert h.metric("tickwatch_source_reconnects_total") == 1


def test_unknown_product_is_fatal() -> None:
    fixture = CoinbaseFixture(errors={0: "Failed to subscribe"})

    async def scenario() -> None:
        async with fixture.server:
            with pytest.raises(FatalFeedError, match="Failed to subscribe"):
                await harness(fixture.server.url, "NOPE-USD").drain()

    run(scenario())
    assert len(fixture.server.connections) == 1


def test_malformed_and_unknown_messages_are_counted() -> None:
    frames = [
        "{",
        frame(MATCH | {"price": None}),
        frame({"type": "status", "products": []}),
        frame(MATCH),
    ]
    fixture = CoinbaseFixture([Plan(frames)])

    h, _ = collect_from(fixture.server, harness, 1)
    assert h.metric("tickwatch_source_dropped_total", reason="malformed") == 2
    assert h.metric("tickwatch_source_dropped_total", reason="unknown_type") == 1
