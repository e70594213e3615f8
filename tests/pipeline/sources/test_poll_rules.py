"""The polling sources' pure parts: the novelty rules, the watermark file, the read-back of
what Kafka holds, and the vendors' parsers on documented shapes and malformed ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.codec import AssetClass, Bar, Quote, Trade, to_wire
from pipeline.sources.checkpoint import CheckpointError
from pipeline.sources.live.trade_ledger import TradeLedger
from pipeline.sources.poll.alpaca import AlpacaSnapshots
from pipeline.sources.poll.errors import MalformedResponse
from pipeline.sources.poll.novelty import new_records
from pipeline.sources.poll.polygon import PolygonSnapshots
from pipeline.sources.poll.state import PollState
from pipeline.sources.poll.yahoo import YahooChart, instrument
from tests.fixtures.poll_vendors import Market, Minute, alpaca_snapshot, yahoo_chart

MIN = 60_000_000
NOW = 1_000 * MIN


def bar(ts: int, close: float = 1.0) -> Bar:
    return Bar("AAPL", ts, 60, 1.0, 1.0, 1.0, close, 10.0, source="yfinance")


def test_only_closed_minutes_above_the_watermark_are_new() -> None:
    state, ledger = PollState(None), TradeLedger(None, 1000)
    first = new_records([bar(NOW - 2 * MIN), bar(NOW - MIN), bar(NOW)], state, ledger, NOW)
    assert [b.ts for b in first.records] == [NOW - 2 * MIN, NOW - MIN]
    assert first.forming == 1 and not first.repeats
    # the same minutes again, one with changed values, and the formerly forming one now closed
    later = NOW + MIN
    again = new_records([bar(NOW - MIN, close=2.0), bar(NOW, close=3.0)], state, ledger, later)
    assert [(r.ts, r.close) for r in again.records] == [(NOW, 3.0)]  # type: ignore[union-attr]
    assert again.repeats == {"bar": 1}


def test_quotes_by_time_and_trades_by_id_or_time() -> None:
    state, ledger = PollState(None), TradeLedger(None, 1000)
    quote = Quote("AAPL", NOW, 1.0, 1.0, 1.1, 1.0, source="polygon")
    with_id = Trade("AAPL", NOW, 1.0, 1.0, trade_id="9", exchange="4", source="polygon")
    without = Trade("BTC-USD", NOW, 1.0, 1.0, source="polygon")
    assert len(new_records([quote, with_id, without], state, ledger, NOW).records) == 3
    repeat = new_records([quote, with_id, without], state, ledger, NOW + MIN)
    assert not repeat.records and repeat.repeats == {"quote": 1, "trade": 2}


def test_the_watermark_file_survives_a_restart_and_a_bad_one_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "poll" / "yfinance.json"
    state = PollState(path)
    state.raise_to("AAPL", "bar", NOW)
    state.checkpoint()
    assert PollState(path).mark("AAPL").bar == NOW
    path.write_text('{"v": 1, "symbols": {"AAPL": [1, "x", 3]}}')
    with pytest.raises(CheckpointError, match=r"yfinance\.json.*AAPL"):
        PollState(path)


def test_read_back_raises_watermarks_from_this_sources_records_only() -> None:
    state = PollState(None)
    mine = to_wire(bar(NOW))
    other_source = to_wire(Bar("AAPL", NOW + MIN, 60, 1, 1, 1, 1, 1, source="polygon"))
    daily = to_wire(Bar("AAPL", NOW + MIN, 86_400, 1, 1, 1, 1, 1, source="yfinance"))
    assert [state.remember_wire(b, "yfinance") for b in (mine, other_source, daily)] == [1, 0, 0]
    assert state.mark("AAPL").bar == NOW


def test_yahoo_chart_nulls_and_errors() -> None:
    vendor = YahooChart(["AAPL"], base_url="http://127.0.0.1:1")
    request = vendor.requests()[0]
    chart = yahoo_chart("AAPL", Market((Minute(60), Minute(120, c=None), Minute(180))))
    parsed = vendor.parse(chart, request, 0)
    assert [b.ts for b in parsed.records] == [60_000_000, 180_000_000]  # the null minute: no bar
    with pytest.raises(MalformedResponse, match=r"chart\.error.*Not Found"):
        body = {"chart": {"result": None, "error": {"code": "Not Found", "description": "x"}}}
        vendor.parse(body, request, 0)
    chart["chart"]["result"][0]["indicators"]["quote"][0]["close"] = [1.0]
    with pytest.raises(MalformedResponse, match=r"GET http://127\.0\.0\.1:1/v8/finance/chart/AAPL"):
        vendor.parse(chart, request, 0)


def test_yahoo_symbols_become_canonical_instruments() -> None:
    assert instrument("BTC-USD", AssetClass.CRYPTO) == "BTC/USD"
    assert instrument("EURUSD=X", AssetClass.FX) == "EUR/USD"
    assert instrument("BRK-B", AssetClass.EQUITY) == "BRK.B"
    assert instrument("^GSPC", AssetClass.INDEX) == "^GSPC"


def test_a_malformed_snapshot_names_the_request_and_the_field() -> None:
    vendor = PolygonSnapshots(
        ["AAPL"], api_key=SecretStr("k"), base_url="http://h", mode="snapshot"
    )
    request = vendor.requests()[0]
    body = {"status": "OK", "tickers": [{"ticker": "AAPL", "lastTrade": {"i": "1", "t": 5}}]}
    with pytest.raises(MalformedResponse, match=r"tickers\[0\]\.lastTrade.*'p'") as caught:
        vendor.parse(body, request, 0)
    assert "GET http://h/v2/snapshot/locale/us/markets/stocks/tickers?tickers=AAPL" in str(
        caught.value
    )
    with pytest.raises(MalformedResponse, match="status 'ERROR'"):
        vendor.parse({"status": "ERROR", "error": "bad"}, request, 0)


def test_alpaca_crypto_snapshots_keep_coin_sizes() -> None:
    vendor = AlpacaSnapshots(["BTC/USD"], key_id=SecretStr("k"), secret=SecretStr("s"),
                             base_url="http://h", feed="crypto")  # fmt: skip
    request = vendor.requests()[0]
    assert request.url == "http://h/v1beta3/crypto/us/snapshots"
    snap = alpaca_snapshot(Market((Minute(60),), ("5", 61 * 10**9, 1.0, 0.5),
                                  (62 * 10**9, 1.0, 0.25, 1.1, 0.5)))  # fmt: skip
    records = vendor.parse({"snapshots": {"BTC/USD": snap}}, request, 0).records
    quote = next(r for r in records if isinstance(r, Quote))
    assert quote.bid_size == 0.25 and quote.lot_size == 1 and quote.instrument == "BTC/USD"
    assert {r.asset_class for r in records} == {AssetClass.CRYPTO}
