"""Time for the live sources, injected so reconnect and stall logic is tested without sleeps."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time (for record receive times), monotonic time (for deadlines) and sleeping."""

    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; a test clock may return at once and record the request."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def micros(seconds: float) -> int:
    """Epoch seconds as integer microseconds (the records' time unit)."""
    return int(seconds * 1_000_000)
