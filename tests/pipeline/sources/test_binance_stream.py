"""Binance against the local fixture server: combined streams, 429s, gaps, reconnects."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from pipeline.codec import Bar, Quote, Trade

from .fixtures.binance import BOOK_TICKER, KLINE, TRADE, BinanceFixture, frame, trade_frames
from .fixtures.server import Plan
from .helpers import Harness, collect_from, live_settings, trade_ids


def harness(url: str, symbols: str = "BNBBTC,BNBUSDT") -> Harness:
    return Harness(live_settings("binance", symbols, url))


def closed(kline: dict[str, object]) -> dict[str, object]:
    return kline | {"k": dict(kline["k"]) | {"x": True}}  # type: ignore[call-overload]


def test_combined_stream_maps_trades_quotes_and_closed_klines_only() -> None:
    frames = [
        frame("bnbbtc@trade", TRADE),
        frame("bnbusdt@bookTicker", BOOK_TICKER),
        frame("bnbbtc@kline_1m", KLINE),  # still open: counted, not a bar
        frame("bnbbtc@kline_1m", closed(KLINE)),
    ]
    fixture = BinanceFixture([Plan(frames)])

    h, (trade, quote, bar) = collect_from(fixture.server, harness, 3)
    assert isinstance(trade, Trade) and trade.conditions == ("S",)
    assert isinstance(quote, Quote) and quote.ts == quote.recv_ts
    assert isinstance(bar, Bar) and bar.trade_count == 100
    query = parse_qs(urlsplit(fixture.server.connections[0].path).query)
    assert query["streams"] == [
        "bnbbtc@trade/bnbbtc@bookTicker/bnbbtc@kline_1m/"
        "bnbusdt@trade/bnbusdt@bookTicker/bnbusdt@kline_1m"
    ]
    assert h.metric("tickwatch_source_dropped_total", reason="bar_not_closed") == 1


def test_disconnect_reconnects_to_the_same_streams() -> None:
    sent = trade_frames("BTCUSDT", 6)
    fixture = BinanceFixture([Plan(sent[:2], then="close"), Plan(sent[2:])])

    h, records = collect_from(fixture.server, lambda url: harness(url, "BTCUSDT"), 6)
    assert trade_ids(records) == [str(n) for n in range(1, 7)]
    first, second = fixture.server.connections
    assert first.path == second.path
    assert h.metric("tickwatch_source_reconnects_total") == 1


def test_rate_limited_handshake_backs_off() -> None:
    fixture = BinanceFixture([Plan(trade_frames("BTCUSDT", 1))], refuse={0: 429, 1: 429})

    h, _ = collect_from(fixture.server, lambda url: harness(url, "BTCUSDT"), 1)
    assert fixture.server.attempts == 3
    assert len(h.clock.sleeps) == 2 and h.clock.sleeps[1] > h.clock.sleeps[0]
    assert h.metric("tickwatch_source_reconnects_total") == 2


def test_trade_id_gaps_and_repeats_are_counted() -> None:
    frames = trade_frames("BTCUSDT", 2) + trade_frames("BTCUSDT", 2, start_id=2)
    frames += trade_frames("BTCUSDT", 1, start_id=10)
    fixture = BinanceFixture([Plan(frames)])

    h, records = collect_from(fixture.server, lambda url: harness(url, "BTCUSDT"), 4)
    assert trade_ids(records) == ["1", "2", "3", "10"]
    assert h.metric("tickwatch_source_dropped_total", reason="stale") == 1
    assert h.metric("tickwatch_source_dropped_total", reason="sequence_gap") == 6


def test_malformed_payloads_are_counted() -> None:
    bad_price = TRADE | {"p": "NaN"}
    frames = [
        "not json",
        frame("bnbbtc@trade", bad_price),
        '{"result": null, "id": 1}',
        '{"code": 2, "msg": "Invalid request"}',
        frame("bnbbtc@trade", TRADE),
    ]
    fixture = BinanceFixture([Plan(frames)])

    h, _ = collect_from(fixture.server, harness, 1)
    assert h.metric("tickwatch_source_dropped_total", reason="malformed") == 2
    assert h.metric("tickwatch_source_dropped_total", reason="unknown_type") == 1
    assert h.metric("tickwatch_source_dropped_total", reason="vendor_error") == 1


def test_server_shutdown_event_reconnects_without_waiting_to_be_cut_off() -> None:
    shutdown = frame("btcusdt@trade", {"e": "serverShutdown", "E": 1763652600000})
    first = trade_frames("BTCUSDT", 1)
    fixture = BinanceFixture([Plan([*first, shutdown]), Plan(trade_frames("BTCUSDT", 1, 2))])

    h, _ = collect_from(fixture.server, lambda url: harness(url, "BTCUSDT"), 2)
    assert len(fixture.server.connections) == 2
    assert h.metric("tickwatch_source_reconnects_total") == 1
