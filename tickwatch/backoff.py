"""The one retry backoff: exponential delays under a cap, with optional full jitter.

Delay ``n`` (``n`` consecutive failures before it, counting from 0) is
``min(max_s, initial_s * 2**n)``; with ``jitter`` it is that ceiling times a draw from
``jitter()`` in ``[0, 1)`` — "full jitter" from "Exponential Backoff And Jitter" (AWS
architecture blog), so many clients that lost the same server spread their reconnects. The policy
never sleeps: callers schedule the retry on their own clock. Used by the load worker's insert
retries, the live sources' reconnects, the telemetry exporter and the alert outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

_MAX_EXPONENT = 62  # keeps 2**n finite; the cap is reached long before


@dataclass(frozen=True, slots=True)
class Backoff:
    """The policy: ``initial_s``, ``max_s`` and an optional jitter source (``random.random``)."""

    initial_s: float
    max_s: float
    jitter: Callable[[], float] | None = None

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s:
            raise ValueError(
                f"backoff needs 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}"
            )

    def ceiling(self, failures: int) -> float:
        """The longest wait after ``failures`` earlier consecutive failures."""
        return min(self.max_s, self.initial_s * 2.0 ** min(failures, _MAX_EXPONENT))

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` earlier consecutive failures (0 = the first failure)."""
        ceiling = self.ceiling(failures)
        return ceiling * self.jitter() if self.jitter is not None else ceiling


class Attempts:
    """Consecutive failures under one :class:`Backoff`; :meth:`reset` once things work again."""

    def __init__(self, policy: Backoff) -> None:
        self.policy = policy
        self._attempt = 0

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._attempt

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        return self.policy.ceiling(self._attempt)

    def next_delay(self) -> float:
        """The next delay in seconds; advances the attempt counter."""
        delay = self.policy.delay(self._attempt)
        self._attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from ``initial_s``."""
        self._attempt = 0
