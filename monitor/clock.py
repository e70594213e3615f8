"""Injected time: the detector, the alert state machine and the notifier never call time() directly.

``SystemClock`` is the wall clock; ``ManualClock`` is moved by tests with :meth:`advance`, so
hysteresis, repeat intervals, grouping, silences and Burrow windows are tested without sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of the current time, in seconds since the Unix epoch (UTC)."""

    def time(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """The wall clock."""

    def time(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to; thread-safe."""

    def __init__(self, start: float = 1_763_712_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, epoch_seconds: float) -> None:
        with self._lock:
            self._now = epoch_seconds


def utc(epoch_seconds: float) -> datetime:
    """An aware UTC datetime for ``epoch_seconds``."""
    return datetime.fromtimestamp(epoch_seconds, tz=UTC)
