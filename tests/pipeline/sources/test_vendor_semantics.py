"""Issue 13 §3: each vendor finding, from a sample in the vendor's documented format.

Session-level checks feed frames straight into a vendor session (no network); the handshake and
disconnect findings also run against the fixture servers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import SecretStr

from pipeline.codec import AssetClass, TradeCorrection
from pipeline.sources.live import instruments
from pipeline.sources.live.alpaca import AlpacaSession
from pipeline.sources.live.errors import FatalFeedError, RetryableFeedError
from pipeline.sources.live.polygon import PolygonSession

from .fixtures import polygon
from .fixtures.polygon import PolygonFixture, frame, status
from .fixtures.server import Plan
from .helpers import Harness, collect_from, live_settings, trade_ids

RECV = 1763700000123456
KEY = "polygon-key"


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def polygon_session() -> PolygonSession:
    session = PolygonSession(SecretStr(KEY), "Q.MSFT")
    session.on_frame(status("connected", "Connected Successfully"), RECV)
    return session


def test_polygon_quote_sequence_starts_again_each_trading_session() -> None:
    session = polygon_session()
    evening = polygon.QUOTE | {"t": ms("2026-03-09T23:59:00"), "q": 50385480}  # 19:59 ET
    # The next session's first quotes carry small q again (Polygon resets q every session).
    morning = [polygon.QUOTE | {"t": ms("2026-03-10T09:00:00") + n, "q": 1 + n} for n in range(3)]
    out = session.on_frame(frame(evening, *morning), RECV)
    assert len(out.records) == 4 and not out.drops
    # Within one session a repeated q is still stale.
    again = session.on_frame(frame(morning[1]), RECV)
    assert again.records == [] and again.drops == {"stale": 1}


def test_polygon_authenticates_on_the_documented_success_greeting() -> None:
    session = PolygonSession(SecretStr(KEY), "T.MSFT")
    greeting = session.on_frame(status("success", "Connected Successfully"), RECV)
    assert [orjson.loads(r) for r in greeting.replies] == [{"action": "auth", "params": KEY}]
    session.on_frame(status("auth_success", "authenticated"), RECV)
    ack = session.on_frame(status("success", "subscribed to: T.MSFT"), RECV)
    assert ack.replies == [] and ack.stop is None  # a later success is a subscription ack


@pytest.mark.parametrize("name", ["force_disconnect", "slow_consumer", "max_connections"])
def test_polygon_disconnect_statuses_end_the_session(name: str) -> None:
    out = polygon_session().on_frame(status(name, "closing"), RECV)
    assert isinstance(out.stop, RetryableFeedError)


def test_polygon_handshake_with_success_greeting_against_the_fixture() -> None:
    fixture = PolygonFixture(KEY, [Plan([frame(polygon.TRADE)])], greeting="success")

    def harness(url: str) -> Harness:
        return Harness(live_settings("polygon", "MSFT", url, polygon_api_key=KEY))

    _, records = collect_from(fixture.server, harness, 1)
    assert trade_ids(records) == ["12345"]
    assert fixture.server.connections[0].received[0] == {"action": "auth", "params": KEY}


def test_polygon_force_disconnect_reconnects_against_the_fixture() -> None:
    sent = polygon.trades("MSFT", 2)
    forced = status("force_disconnect", "Another connection was opened with this key")
    plans = [Plan([frame(sent[0]), forced]), Plan([frame(sent[1])])]
    fixture = PolygonFixture(KEY, plans)

    def harness(url: str) -> Harness:
        return Harness(live_settings("polygon", "MSFT", url, polygon_api_key=KEY))

    h, records = collect_from(fixture.server, harness, 2)
    assert trade_ids(records) == ["900", "901"]
    assert len(fixture.server.connections) == 2
    assert h.metric("tickwatch_source_reconnects_total") == 1


# Alpaca's stock stream samples: a correction (T=c) and a cancel (T=x) of trades.
CORRECTION = {"T": "c", "S": "IWM", "x": "D", "oi": 79372207866957, "op": 208.65, "os": 14950,
              "oc": [" ", "7", "V"], "ci": 79372223926359, "cp": 208.65, "cs": 14950,
              "cc": [" ", "7", "Z", "V"], "z": "B",
              "t": "2022-01-20T17:26:08.000760661Z"}  # fmt: skip
CANCEL = {"T": "x", "S": "AAPL", "i": 52983525028174, "x": "D", "p": 125.5, "s": 100, "a": "C",
          "z": "C", "t": "2021-02-22T15:51:44.208Z"}  # fmt: skip


def alpaca_session() -> AlpacaSession:
    return AlpacaSession(["IWM"], SecretStr("k"), SecretStr("s"), AssetClass.EQUITY)


def test_alpaca_corrections_and_cancels_become_records_for_the_corrections_topic() -> None:
    out = alpaca_session().on_frame(orjson.dumps([CORRECTION, CANCEL]), RECV)
    assert out.drops == {}
    fix, cancel = out.records
    assert isinstance(fix, TradeCorrection) and isinstance(cancel, TradeCorrection)
    assert (fix.action, fix.trade_id, fix.corrected_id) == ("correct", "79372207866957",
                                                            "79372223926359")  # fmt: skip
    assert fix.tape == "B" and fix.corrected_conditions == (" ", "7", "Z", "V")
    # CTA: 7 (qualified contingent) counts in volume only; Z alone would allow high/low.
    assert (fix.corrected_updates_open_close, fix.corrected_updates_high_low) == (0, 0)
    assert fix.corrected_updates_volume == 1 and fix.recv_ts == RECV
    assert (cancel.action, cancel.trade_id, cancel.price, cancel.tape) == (
        "cancel", "52983525028174", 125.5, "C")  # fmt: skip
    bad = alpaca_session().on_frame(orjson.dumps([CORRECTION | {"oi": "x"}]), RECV)
    assert bad.drops == {"malformed": 1}
    bad = alpaca_session().on_frame(orjson.dumps([CANCEL | {"a": "Q"}]), RECV)
    assert bad.drops == {"malformed": 1}


@pytest.mark.parametrize(("code", "text"), [(408, "v2 not enabled"), (411, "insufficient scope")])
def test_alpaca_errors_408_and_411_are_fatal(code: int, text: str) -> None:
    error = [{"T": "error", "code": code, "msg": text}]
    out = alpaca_session().on_frame(orjson.dumps(error), RECV)
    assert isinstance(out.stop, FatalFeedError)


def test_canonical_instruments_span_vendors() -> None:
    spellings = [
        instruments.split_pair("BTC/USD"),  # Alpaca
        instruments.split_pair("BTC-USD"),  # Coinbase, Polygon crypto
        instruments.finnhub_instrument("COINBASE:BTC-USD")[0],
    ]
    assert set(spellings) == {"BTC/USD"}
    assert instruments.binance_pair("BTCUSDT") == "BTC/USDT"  # USDT stays apart from USD
    assert instruments.binance_pair("BTCFDUSD") == "BTC/FDUSD"
    assert instruments.finnhub_instrument("BINANCE:ETHBTC") == ("ETH/BTC", "BINANCE")
    assert instruments.finnhub_instrument("OANDA:EUR_USD") == ("EUR/USD", "OANDA")


def test_canonical_venues_agree_between_polygon_ids_and_alpaca_letters() -> None:
    # The same venue, as Polygon's id and as Alpaca's participant letter.
    pairs = [("3", "C"), ("10", "N"), ("12", "Q"), ("15", "V"), ("4", "D"), ("19", "Z")]
    for polygon_id, letter in pairs:
        mic = instruments.polygon_venue(polygon_id, crypto=False)
        assert mic and mic == instruments.alpaca_venue(letter)
    assert instruments.polygon_venue("3", crypto=False) == "XCIS"
    assert instruments.polygon_venue("1", crypto=True) == ""  # crypto ids: no MIC table
