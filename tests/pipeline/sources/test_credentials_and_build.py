"""Credentials (settings or TOML file, never logged) and choosing a source from settings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from loguru import logger
from prometheus_client import CollectorRegistry

from pipeline.sources.live import build_live_source
from pipeline.sources.live.credentials import resolve_credentials
from pipeline.sources.live.errors import AuthenticationError, FatalFeedError
from tickwatch.settings import SourceCredentials, load_settings
from tickwatch.telemetry.catalog import IngestMetrics

from .fixtures.alpaca import TRADE, AlpacaFixture, frame
from .fixtures.finnhub import STOCK_TRADES, FinnhubFixture
from .fixtures.finnhub import frame as finnhub_frame
from .fixtures.polygon import PolygonFixture
from .fixtures.server import Plan
from .helpers import Harness, live_settings, run

KEY, SECRET = "AKSECRETKEYIDNEVERLOGGED", "sEcReT-never-in-the-logs-42"


def test_settings_win_over_the_secrets_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(
        'alpaca_key_id = "from-file"\npolygon_api_key = "pk-file-7781"\n', encoding="utf-8"
    )
    creds = resolve_credentials(SourceCredentials(secrets_file=path, alpaca_key_id="from-env"))
    assert creds.alpaca_key_id.get_secret_value() == "from-env"
    assert creds.polygon_api_key.get_secret_value() == "pk-file-7781"
    assert creds.alpaca_secret_key.get_secret_value() == ""
    assert "pk-file-7781" not in repr(creds)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('alpaca_key_id = "x"\nunknown = "y"\n', "unknown keys"),
        ("alpaca_key_id = 42\n", "must be strings"),
        (f'alpaca_key_id = "{KEY}\n', "not valid TOML"),
    ],
)
def test_bad_secrets_files_are_fatal_and_quote_no_value(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FatalFeedError, match=message) as info:
        resolve_credentials(SourceCredentials(secrets_file=path))
    assert KEY not in str(info.value)


def test_missing_credentials_are_fatal_before_connecting() -> None:
    settings = load_settings(ingest={"source": "polygon", "symbol_list": "MSFT"})
    with pytest.raises(FatalFeedError, match="POLYGON_API_KEY"):
        build_live_source(settings, IngestMetrics(CollectorRegistry()))


def test_non_live_source_is_rejected() -> None:
    settings = load_settings(ingest={"source": "simulator", "symbol_list": "MSFT"})
    with pytest.raises(FatalFeedError, match="not a live source"):
        build_live_source(settings, IngestMetrics(CollectorRegistry()))


@pytest.mark.parametrize(
    ("source", "extra", "url"),
    [
        ("alpaca", {}, "wss://stream.data.alpaca.markets/v2/iex"),
        ("alpaca", {"alpaca_feed": "crypto"}, "wss://stream.data.alpaca.markets/v1beta3/crypto/us"),
        ("polygon", {}, "wss://socket.polygon.io/stocks"),
        ("polygon", {"polygon_cluster": "crypto"}, "wss://socket.polygon.io/crypto"),
        ("coinbase", {}, "wss://ws-feed.exchange.coinbase.com"),
        ("binance", {}, "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/"
         "btcusdt@bookTicker/btcusdt@kline_1m"),
    ],
)  # fmt: skip
def test_default_urls_are_the_vendors_production_endpoints(
    source: str, extra: dict[str, str], url: str
) -> None:
    creds = {"alpaca_key_id": "k", "alpaca_secret_key": "s", "polygon_api_key": "p"}
    settings = load_settings(
        ingest={"source": source, "symbol_list": "BTCUSDT"}, sources=creds | extra
    )
    source_obj = build_live_source(settings, IngestMetrics(CollectorRegistry()))
    assert source_obj.name == source
    assert source_obj._vendor.url() == url


class _Collect(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_secrets_never_appear_in_logs() -> None:
    """A good session and a failed one with loguru at TRACE and stdlib logging (websockets'
    frame log included) at DEBUG: no log line holds a secret."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m) + repr(m.record["extra"])), level="TRACE")
    root, handler = logging.getLogger(), _Collect(lines)
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    good = AlpacaFixture(KEY, SECRET, [Plan([frame(TRADE)])])
    refused = PolygonFixture(SECRET)
    # Finnhub carries its token in the URL: a good session, then one refused at the handshake.
    finnhub_good = FinnhubFixture(SECRET, 1, [Plan([finnhub_frame(STOCK_TRADES)])])
    finnhub_refused = FinnhubFixture("another-token", 1)

    async def scenario() -> None:
        async with good.server, refused.server, finnhub_good.server, finnhub_refused.server:
            for fixture in (finnhub_good, finnhub_refused):
                source = Harness(
                    live_settings("finnhub", "AAPL", fixture.server.url, finnhub_api_key=SECRET)
                )
                try:
                    await source.collect(1)
                except AuthenticationError as exc:
                    lines.append(str(exc))
            await Harness(
                live_settings(
                    "alpaca", "AAPL", good.server.url, alpaca_key_id=KEY, alpaca_secret_key=SECRET
                )
            ).collect(1)
            failing = Harness(
                live_settings("polygon", "MSFT", refused.server.url, polygon_api_key=KEY)
            )
            with pytest.raises(AuthenticationError) as info:
                await failing.drain()
            lines.append(str(info.value))

    try:
        run(scenario())
    finally:
        logger.remove(sink)
        root.removeHandler(handler)
        root.setLevel(previous_level)
    assert lines, "the scenario should have logged something"
    assert not [line for line in lines if KEY in line or SECRET in line]
