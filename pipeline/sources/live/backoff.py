"""Reconnect delays: exponential backoff with full jitter.

Delay ``n`` (counting from 0 since the last reset) is drawn uniformly from
``[0, min(max_s, initial_s * 2**n))``, as in "Exponential Backoff And Jitter" (AWS architecture
blog): many clients that lost the same server spread their reconnects instead of arriving
together. The random source is injected so tests can pin the draw.
"""

from __future__ import annotations

import random
from collections.abc import Callable

_MAX_EXPONENT = 62  # keeps 2**n finite; the cap is reached long before


class Backoff:
    """Hands out reconnect delays; :meth:`reset` after a connection has delivered data."""

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError(f"backoff needs 0 < initial_s <= max_s, got {initial_s}, {max_s}")
        self._initial = initial_s
        self._max = max_s
        self._rng = rng
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        exponent = min(self._attempt, _MAX_EXPONENT)
        return min(self._max, self._initial * 2.0**exponent)

    def next_delay(self) -> float:
        """The next delay in seconds (full jitter) and advance the attempt counter."""
        delay = self.ceiling() * self._rng()
        self._attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from ``initial_s`` (the connection proved healthy)."""
        self._attempt = 0
