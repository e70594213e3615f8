"""Silent connections: a stall reconnects while the market is open, not while it is closed."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from pipeline.sources.live.binance import BinanceVendor
from pipeline.sources.live.client import WebSocketSource
from pipeline.sources.live.stall import ConnectionPolicy
from tickwatch.market_hours import AlwaysOpen
from tickwatch.telemetry.catalog import IngestMetrics

from .fixtures.binance import BinanceFixture, trade_frames
from .fixtures.server import Plan
from .helpers import FakeClock, Harness, live_settings, run


class NeverOpen:
    def is_open(self, epoch_s: float) -> bool:
        return False


def test_silent_connection_in_open_market_reconnects() -> None:
    fixture = BinanceFixture([Plan(), Plan(trade_frames("BTCUSDT", 1))])

    async def scenario() -> Harness:
        async with fixture.server:
            settings = live_settings("binance", "BTCUSDT", fixture.server.url, stall_timeout_s=0.2)
            h = Harness(settings)
            await h.collect(1)
            return h

    h = run(scenario())
    assert len(fixture.server.connections) == 2
    assert h.metric("tickwatch_source_reconnects_total") == 1


def test_silence_while_market_closed_is_not_a_stall_and_duration_ends_the_run() -> None:
    fixture = BinanceFixture([Plan()])
    registry = CollectorRegistry()

    async def scenario() -> list[object]:
        async with fixture.server:
            vendor = BinanceVendor(["BTCUSDT"], market=NeverOpen(), url=fixture.server.url)
            policy = ConnectionPolicy(stall_timeout_s=0.1, duration_s=0.5)
            source = WebSocketSource(vendor, IngestMetrics(registry), policy, clock=FakeClock())
            return [batch async for batch in source.batches()]

    assert run(scenario()) == []
    assert len(fixture.server.connections) == 1
    assert (
        registry.get_sample_value("tickwatch_source_reconnects_total", {"source": "binance"})
        is None
    )


def test_duration_ends_a_streaming_run() -> None:
    fixture = BinanceFixture([Plan(trade_frames("BTCUSDT", 3))])

    async def scenario() -> int:
        async with fixture.server:
            vendor = BinanceVendor(["BTCUSDT"], market=AlwaysOpen(), url=fixture.server.url)
            policy = ConnectionPolicy(duration_s=0.3)
            source = WebSocketSource(vendor, IngestMetrics(CollectorRegistry()), policy)
            return sum([len(batch) async for batch in source.batches()])

    assert run(scenario()) == 3


def test_aclose_ends_batches_without_reconnecting() -> None:
    fixture = BinanceFixture([Plan(trade_frames("BTCUSDT", 1))])

    async def scenario() -> int:
        async with fixture.server:
            vendor = BinanceVendor(["BTCUSDT"], market=AlwaysOpen(), url=fixture.server.url)
            source = WebSocketSource(vendor, IngestMetrics(CollectorRegistry()), ConnectionPolicy())
            seen = 0
            async for batch in source.batches():
                seen += len(batch)
                await source.aclose()
            return seen

    assert run(scenario()) == 1
    assert len(fixture.server.connections) == 1
