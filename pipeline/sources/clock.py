"""Time for sources, injected so tests run simulated seconds without sleeping.

A source asks its clock for the time and sleeps on it; :class:`SystemClock` is the real one,
:class:`ManualClock` advances only when told to (or when a source sleeps on it), so a test can
run an hour of simulated feed in milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Epoch-seconds time plus an awaitable sleep."""

    def now(self) -> float:
        """Current Unix time in seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` of this clock's time have passed."""
        ...


class SystemClock:
    """Wall-clock time and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when advanced; ``sleep`` advances it and yields once."""

    def __init__(self, start: float = 1_763_700_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (never backwards)."""
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)
