"""The one injected clock: nothing in tickwatch reads or waits on time except through it.

:class:`SystemClock` is the real one. :class:`ManualClock` moves only when a test tells it to
(:meth:`~ManualClock.advance`, :meth:`~ManualClock.set`) or when code sleeps on it, so batching
deadlines, reconnect back-off, source pacing, hysteresis and silences are tested without
sleeping, and an hour of simulated feed runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

DEFAULT_START = 1_763_712_000.0  # 2025-11-21 08:00 UTC: where a ManualClock starts by default


class WallClock(Protocol):
    """Just the wall time: for code that stamps and compares times but never waits."""

    def time(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
        ...


class MonotonicClock(Protocol):
    """Just monotonic time: for deadlines and backoff schedules that never sleep themselves."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...


class Clock(WallClock, MonotonicClock, Protocol):
    """Wall time (event-time bounds, latencies), monotonic time (deadlines) and sleeping."""

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds`` of this clock's time (at once when ``seconds`` <= 0)."""
        ...


class SystemClock:
    """The real clocks and ``asyncio.sleep``."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told to; thread-safe.

    ``sleep`` advances the clock by the time asked for and yields to the event loop once, so
    code that sleeps on it runs simulated time at full speed.
    """

    def __init__(self, start: float = DEFAULT_START) -> None:
        self._wall = start
        self._mono = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move wall and monotonic time forward by ``seconds`` (never backwards)."""
        step = max(0.0, seconds)
        with self._lock:
            self._wall += step
            self._mono += step

    def set(self, epoch_seconds: float) -> None:
        """Put the wall time at ``epoch_seconds`` (either way); monotonic time stays put."""
        with self._lock:
            self._wall = epoch_seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


SYSTEM_CLOCK = SystemClock()
"""The shared real clock: the default wherever a clock is injected."""


def utc(epoch_seconds: float) -> datetime:
    """An aware UTC datetime for ``epoch_seconds``."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)


def micros(seconds: float) -> int:
    """Epoch seconds as integer microseconds (the records' time unit)."""
    return int(seconds * 1_000_000)
