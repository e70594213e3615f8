"""Each vendor end to end: fixture server → live source → ingest → Kafka → load → ClickHouse.

Every stream is cut once mid-way (the source reconnects and resubscribes); the rows in
ClickHouse must equal the messages the fixture sent, field by field, with times in µs.
"""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from tickwatch.settings import Settings

from .fixtures import alpaca, binance, coinbase, finnhub, polygon
from .fixtures.server import FixtureServer, Plan
from .pipeline_run import ingest, live, load, rows

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

KEY_ID, SECRET = "key-e2e", "secret-e2e"
FAST = {"reconnect_initial_s": 0.01, "reconnect_max_s": 0.05}
TRADE_SQL = (
    "SELECT symbol, asset_class, toUnixTimestamp64Micro(event_time), price, size, exchange, "
    "trade_id, conditions, source FROM trades ORDER BY symbol, event_time"
)
QUOTE_SQL = (
    "SELECT symbol, asset_class, toUnixTimestamp64Micro(event_time), bid_price, bid_size, "
    "ask_price, ask_size, bid_exchange, ask_exchange, conditions, source FROM quotes "
    "ORDER BY symbol, event_time"
)


def split(frames: Sequence[str]) -> list[Plan]:
    """Half the frames, a disconnect, then the rest on the next connection."""
    half = len(frames) // 2
    return [Plan(frames[:half], then="close"), Plan(frames[half:])]


def micros(text: str) -> int:
    """An RFC 3339 UTC time with ≥ 6 fraction digits as µs (independent of the source code)."""
    parsed = datetime.fromisoformat(text[:26] + "+00:00")
    return calendar.timegm(parsed.utctimetuple()) * 1_000_000 + parsed.microsecond


def pipeline(settings: Settings, client: Client, server: FixtureServer, *, source: str,
             symbols: str, tables: dict[str, int], **sources: Any) -> None:  # fmt: skip
    """Ingest everything the fixture sends, then load until ``tables`` hold their rows."""
    count = sum(tables.values())

    async def scenario() -> None:
        async with server:
            configured = live(
                settings, source, symbols, **({f"{source}_url": server.url} | FAST | sources)
            )
            result = await asyncio.wait_for(ingest(configured, count), 60)
            assert result.clean and result.delivered == count

    asyncio.run(scenario())
    load(settings, client, tables)
    assert len(server.connections) == 2  # cut once, reconnected once


def test_alpaca(settings: Settings, ch_client: Client) -> None:
    trades, quotes = alpaca.trades("AAPL", 6), alpaca.quotes("MSFT", 4)
    frames = [alpaca.frame(*trades[:3]), alpaca.frame(*quotes), alpaca.frame(*trades[3:])]
    fixture = alpaca.AlpacaFixture(KEY_ID, SECRET, split(frames))
    pipeline(settings, ch_client, fixture.server, source="alpaca", symbols="AAPL,MSFT",
             tables={"trades": 6, "quotes": 4}, alpaca_key_id=KEY_ID,
             alpaca_secret_key=SECRET)  # fmt: skip
    assert rows(ch_client, TRADE_SQL) == [
        ("AAPL", "equity", micros(m["t"]), m["p"], m["s"], m["x"], str(m["i"]), tuple(m["c"]),
         "alpaca") for m in trades
    ]  # fmt: skip
    assert rows(ch_client, QUOTE_SQL) == [
        ("MSFT", "equity", micros(m["t"]), m["bp"], m["bs"] * 100, m["ap"], m["as"] * 100,
         m["bx"], m["ax"], tuple(m["c"]), "alpaca") for m in quotes
    ]  # fmt: skip


def test_polygon(settings: Settings, ch_client: Client) -> None:
    trades, quotes = polygon.trades("MSFT", 6), polygon.quotes("MSFT", 4)
    frames = [polygon.frame(*trades[:3]), polygon.frame(*quotes), polygon.frame(*trades[3:])]
    fixture = polygon.PolygonFixture(SECRET, split(frames))
    pipeline(settings, ch_client, fixture.server, source="polygon", symbols="MSFT",
             tables={"trades": 6, "quotes": 4}, polygon_api_key=SECRET)  # fmt: skip
    assert rows(ch_client, TRADE_SQL) == [
        ("MSFT", "equity", m["t"] * 1000, m["p"], m["s"], str(m["x"]), m["i"],
         tuple(str(c) for c in m["c"]), "polygon") for m in trades
    ]  # fmt: skip
    assert rows(ch_client, QUOTE_SQL) == [
        ("MSFT", "equity", m["t"] * 1000, m["bp"], m["bs"] * 100, m["ap"], m["as"] * 100,
         str(m["bx"]), str(m["ax"]), (str(m["c"]),), "polygon") for m in quotes
    ]  # fmt: skip


def test_binance(settings: Settings, ch_client: Client) -> None:
    trades, tickers = binance.trades("BTCUSDT", 6), binance.book_tickers("ETHUSDT", 4)
    frames = [binance.frame("btcusdt@trade", m) for m in trades]
    frames[3:3] = [binance.frame("ethusdt@bookTicker", m) for m in tickers]
    fixture = binance.BinanceFixture(split(frames))
    pipeline(settings, ch_client, fixture.server, source="binance", symbols="BTCUSDT,ETHUSDT",
             tables={"trades": 6, "quotes": 4})  # fmt: skip
    assert rows(ch_client, TRADE_SQL) == [
        ("BTCUSDT", "crypto", m["T"] * 1000, float(Decimal(m["p"])), float(Decimal(m["q"])),
         "BINANCE", str(m["t"]), ("S",) if m["m"] else ("B",), "binance") for m in trades
    ]  # fmt: skip
    quote_rows = rows(ch_client, QUOTE_SQL)
    assert [row[3:] for row in quote_rows] == [
        (float(Decimal(m["b"])), float(Decimal(m["B"])), float(Decimal(m["a"])),
         float(Decimal(m["A"])), "BINANCE", "BINANCE", (), "binance") for m in tickers
    ]  # fmt: skip
    # bookTicker has no event time: the row's event time is the receive time.
    same = "SELECT countIf(event_time = received_at) FROM quotes"
    assert rows(ch_client, same) == [(4,)]


def test_coinbase(settings: Settings, ch_client: Client) -> None:
    matches = coinbase.match_messages("BTC-USD", 6)
    tickers = coinbase.tickers("ETH-USD", 4)
    frames = [coinbase.frame(m) for m in matches]
    frames[3:3] = [coinbase.frame(m) for m in tickers]
    fixture = coinbase.CoinbaseFixture(split(frames))
    pipeline(settings, ch_client, fixture.server, source="coinbase", symbols="BTC-USD,ETH-USD",
             tables={"trades": 6, "quotes": 4})  # fmt: skip
    assert rows(ch_client, TRADE_SQL) == [
        ("BTC-USD", "crypto", micros(m["time"]), float(Decimal(m["price"])),
         float(Decimal(m["size"])), "COINBASE", str(m["trade_id"]),
         ("B",) if m["side"] == "sell" else ("S",), "coinbase") for m in matches
    ]  # fmt: skip
    assert rows(ch_client, QUOTE_SQL) == [
        ("ETH-USD", "crypto", micros(m["time"]), float(Decimal(m["best_bid"])),
         float(Decimal(m["best_bid_size"])), float(Decimal(m["best_ask"])),
         float(Decimal(m["best_ask_size"])), "COINBASE", "COINBASE", (), "coinbase")
        for m in tickers
    ]  # fmt: skip


def test_finnhub(settings: Settings, ch_client: Client) -> None:
    aapl, btc = finnhub.trades("AAPL", 4), finnhub.trades("BINANCE:BTCUSDT", 2, start=10)
    frames = [finnhub.batch(*aapl[:2]), finnhub.frame(finnhub.PING), finnhub.batch(*btc),
              finnhub.batch(*aapl[2:])]  # fmt: skip
    fixture = finnhub.FinnhubFixture(SECRET, 2, split(frames))
    pipeline(settings, ch_client, fixture.server, source="finnhub",
             symbols="AAPL,BINANCE:BTCUSDT", tables={"trades": 6},
             finnhub_api_key=SECRET)  # fmt: skip
    assert rows(ch_client, TRADE_SQL) == [
        ("AAPL", "equity", m["t"] * 1000, m["p"], float(m["v"]), "", "", tuple(m["c"]),
         "finnhub") for m in aapl
    ] + [
        ("BINANCE:BTCUSDT", "crypto", m["t"] * 1000, m["p"], float(m["v"]), "BINANCE", "",
         tuple(m["c"]), "finnhub") for m in btc
    ]  # fmt: skip
    canonical = "SELECT DISTINCT symbol, instrument, venue FROM trades ORDER BY symbol"
    assert rows(ch_client, canonical) == [("AAPL", "AAPL", ""),
                                          ("BINANCE:BTCUSDT", "BTC/USDT", "BINANCE")]  # fmt: skip


def test_canonical_columns_span_sources(settings: Settings, ch_client: Client) -> None:
    """Alpaca's letter C and Polygon's id 3 are one venue, XCIS, in one query."""
    from_alpaca = [m | {"x": "C"} for m in alpaca.trades("AAPL", 2)]
    from_polygon = [m | {"x": 3, "sym": "AAPL"} for m in polygon.trades("AAPL", 2)]
    feeds = [
        (alpaca.AlpacaFixture(KEY_ID, SECRET, [Plan([alpaca.frame(*from_alpaca)])]).server,
         "alpaca", {"alpaca_key_id": KEY_ID, "alpaca_secret_key": SECRET}),
        (polygon.PolygonFixture(SECRET, [Plan([polygon.frame(*from_polygon)])]).server,
         "polygon", {"polygon_api_key": SECRET}),
    ]  # fmt: skip

    async def scenario() -> None:
        for server, source, credentials in feeds:
            async with server:
                urls = {f"{source}_url": server.url} | FAST | credentials
                result = await asyncio.wait_for(
                    ingest(live(settings, source, "AAPL", **urls), 2), 60
                )
                assert result.clean

    asyncio.run(scenario())
    load(settings, ch_client, {"trades": 4})
    by_venue = (
        "SELECT venue, instrument, arraySort(groupUniqArray(exchange)), count() FROM trades "
        "GROUP BY venue, instrument"
    )
    assert rows(ch_client, by_venue) == [("XCIS", "AAPL", ("3", "C"), 4)]
