"""Alpaca end to end against the local fixture server: handshake, data, failures, reconnects."""

from __future__ import annotations

import pytest

from pipeline.codec import AssetClass, Bar, Quote, Trade
from pipeline.sources.live.errors import AuthenticationError

from .fixtures.alpaca import BAR, QUOTE, TRADE, AlpacaFixture, frame, trades
from .fixtures.server import Plan
from .helpers import Harness, collect_from, live_settings, run, trade_ids

KEY, SECRET = "AKFIXTUREKEY0001", "fixture-secret-value-0001"


def harness(url: str, secret: str = SECRET) -> Harness:
    settings = live_settings(
        "alpaca", "AAPL,AMD,SPY", url, alpaca_key_id=KEY, alpaca_secret_key=secret
    )
    return Harness(settings)


def test_authenticates_subscribes_and_maps_documented_samples() -> None:
    fixture = AlpacaFixture(KEY, SECRET, [Plan([frame(TRADE, QUOTE), frame(BAR)])])

    h, records = collect_from(fixture.server, harness, 3)
    trade, quote, bar = records
    assert isinstance(trade, Trade) and trade.symbol == "AAPL" and trade.ts == 1614009104208000
    assert isinstance(quote, Quote) and quote.ts == 1614009105335689
    assert isinstance(bar, Bar) and bar.interval_s == 60 and bar.trade_count == 461
    assert {r.asset_class for r in (trade, quote, bar)} == {AssetClass.EQUITY}
    auth, subscribe = fixture.server.connections[0].received
    assert auth == {"action": "auth", "key": KEY, "secret": SECRET}
    assert subscribe == {
        "action": "subscribe",
        "trades": ["AAPL", "AMD", "SPY"],
        "quotes": ["AAPL", "AMD", "SPY"],
        "bars": ["AAPL", "AMD", "SPY"],
    }
    assert h.metric("tickwatch_source_messages_total") == 6  # 3 control + 3 data


def test_auth_failure_is_fatal_and_never_retried() -> None:
    fixture = AlpacaFixture(KEY, SECRET)

    async def scenario() -> Harness:
        async with fixture.server:
            h = harness(fixture.server.url, "wrong")
            with pytest.raises(AuthenticationError, match="402"):
                await h.drain()
            return h

    h = run(scenario())
    assert len(fixture.server.connections) == 1
    assert h.metric("tickwatch_source_auth_failures_total") == 1
    assert h.metric("tickwatch_source_reconnects_total") == 0


def test_disconnect_mid_stream_reconnects_and_resubscribes() -> None:
    sent = trades("AAPL", 6)
    plans = [Plan([frame(*sent[:3])], then="close"), Plan([frame(*sent[3:])])]
    fixture = AlpacaFixture(KEY, SECRET, plans)

    h, records = collect_from(fixture.server, harness, 6)
    assert [r.trade_id for r in records if isinstance(r, Trade)] == [str(m["i"]) for m in sent]
    assert len(fixture.server.connections) == 2
    assert all(c.received[1]["action"] == "subscribe" for c in fixture.server.connections)
    assert h.metric("tickwatch_source_reconnects_total") == 1


def test_malformed_and_unknown_messages_are_counted_not_fatal() -> None:
    bad_trade = {"T": "t", "S": "AAPL", "p": "not a number"}
    frames = ["{not json", frame(bad_trade, {"T": "n", "S": "AAPL"}), frame(TRADE)]
    fixture = AlpacaFixture(KEY, SECRET, [Plan(frames)])

    h, records = collect_from(fixture.server, harness, 1)
    assert len(records) == 1
    assert h.metric("tickwatch_source_dropped_total", reason="malformed") == 2
    assert h.metric("tickwatch_source_dropped_total", reason="unknown_type") == 1


def test_connection_limit_backs_off_with_growing_delays() -> None:
    fixture = AlpacaFixture(
        KEY, SECRET, [Plan(), Plan(), Plan([frame(TRADE)])], refuse_after_auth={0: 406, 1: 406}
    )

    h, _ = collect_from(fixture.server, harness, 1)
    # rng pinned at 0.5: delays are half of 0.01 * 2**n.
    assert h.clock.sleeps == pytest.approx([0.005, 0.01])
    assert h.metric("tickwatch_source_reconnects_total") == 2
    assert h.metric("tickwatch_source_auth_failures_total") == 0


def test_slow_client_error_mid_stream_keeps_the_records_and_reconnects() -> None:
    sent = trades("AAPL", 2)
    slow = {"T": "error", "code": 407, "msg": "slow client"}
    fixture = AlpacaFixture(KEY, SECRET, [Plan([frame(sent[0], slow)]), Plan([frame(sent[1])])])

    h, records = collect_from(fixture.server, harness, 2)
    assert trade_ids(records) == ["1", "2"]
    assert len(fixture.server.connections) == 2
    assert h.metric("tickwatch_source_reconnects_total") == 1
