"""Receiving with silent-stall detection and an optional run deadline.

A connection can stay open while the vendor sends nothing (a wedged upstream, a half-dead
proxy). WebSocket pings do not catch that, so :func:`receive` treats ``stall_timeout_s``
without a frame as a stall, but only while the market is open: a US equity feed is quiet at
night by design, a crypto feed never is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection

from pipeline.sources.live.errors import StallError
from tickwatch.clock import Clock
from tickwatch.market_hours import MarketOpen


@dataclass(frozen=True)
class ConnectionPolicy:
    """Timing of one live source (from ``settings.sources`` and ``settings.ingest``)."""

    stall_timeout_s: float = 30.0
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 60.0
    duration_s: float = 0.0  # 0 = run until aclose()
    open_timeout_s: float = 10.0
    max_frame_bytes: int = 16 * 1024 * 1024


async def receive(
    ws: ClientConnection,
    *,
    clock: Clock,
    market: MarketOpen,
    stall_timeout_s: float,
    deadline: float | None,
    closed: Callable[[], bool],
) -> str | bytes | None:
    """The next frame; None at ``deadline`` (monotonic seconds) or once ``closed()``.

    Raises :class:`StallError` after ``stall_timeout_s`` of silence in an open market, and
    whatever ``ws.recv()`` raises when the connection drops. Cancelling ``recv`` on a timeout
    loses no data (websockets guarantees it).
    """
    silent_since = clock.monotonic()
    while not closed():
        now = clock.monotonic()
        wait = stall_timeout_s - (now - silent_since)
        if deadline is not None:
            if now >= deadline:
                return None
            wait = min(wait, deadline - now)
        try:
            return await asyncio.wait_for(ws.recv(), max(wait, 0.0))
        except TimeoutError:
            silence = clock.monotonic() - silent_since
            if silence < stall_timeout_s:
                continue
            if market.is_open(clock.time()):
                raise StallError(f"no data for {silence:.1f}s while the market is open") from None
            silent_since = clock.monotonic()  # market closed: silence is expected
    return None
