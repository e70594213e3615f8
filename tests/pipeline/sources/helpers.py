"""Shared pieces of the live-source tests: a test clock, settings, draining a source."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from contextlib import aclosing
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry

from pipeline.codec import Record, Trade
from pipeline.sources.live import build_live_source
from pipeline.sources.live.client import WebSocketSource
from tickwatch.settings import Settings, load_settings
from tickwatch.telemetry.catalog import IngestMetrics

from .fixtures.server import FixtureServer

T = TypeVar("T")
TIMEOUT_S = 15.0  # a safety net so a broken test fails instead of hanging; never asserted


class FakeClock:
    """Real wall and monotonic time, but sleeps are recorded and return at once."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)


class Harness:
    """A live source built from settings, with its metrics registry and test clock."""

    def __init__(self, settings: Settings, rng_value: float = 0.5) -> None:
        self.registry = CollectorRegistry()
        self.clock = FakeClock()
        source = build_live_source(
            settings, IngestMetrics(self.registry), clock=self.clock, rng=lambda: rng_value
        )
        assert isinstance(source, WebSocketSource)
        self.source = source

    def metric(self, name: str, **labels: str) -> float:
        """A sample of this source's metrics (0 when never incremented)."""
        value = self.registry.get_sample_value(name, {"source": self.source.name} | labels)
        return value or 0.0

    async def collect(self, count: int) -> list[Record]:
        """Records until ``count`` arrived, then close the source."""
        records: list[Record] = []
        async with aclosing(self.source.batches()) as batches:
            async for batch in batches:
                records.extend(batch)
                if len(records) >= count:
                    break
        await self.source.aclose()
        return records

    async def drain(self) -> list[Record]:
        """Every record until the source ends or raises."""
        records: list[Record] = []
        async with aclosing(self.source.batches()) as batches:
            async for batch in batches:
                records.extend(batch)
        return records


def live_settings(source: str, symbols: str, url: str, **sources: Any) -> Settings:
    """Settings for ``source`` pointed at a fixture server ``url``."""
    return load_settings(
        ingest={"source": source, "symbol_list": symbols},
        sources={f"{source}_url": url, "reconnect_initial_s": 0.01, "reconnect_max_s": 0.08}
        | sources,
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a fresh event loop with the safety timeout."""
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT_S))


def collect_from(
    server: FixtureServer, harness: Callable[[str], Harness], count: int
) -> tuple[Harness, list[Record]]:
    """Serve ``server``, point ``harness(url)`` at it and take ``count`` records, then stop both.

    Returns the harness (for its clock and metrics) and the records.
    """

    async def scenario() -> tuple[Harness, list[Record]]:
        async with server:
            h = harness(server.url)
            return h, await h.collect(count)

    return run(scenario())


def trade_ids(records: list[Record]) -> list[str]:
    """The trade ids of ``records``, in order; every record must be a trade."""
    trades = [r for r in records if isinstance(r, Trade)]
    assert len(trades) == len(records), f"not only trades: {records}"
    return [t.trade_id for t in trades]
