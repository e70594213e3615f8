"""One time budget for a shutdown (or any bounded wait), shared by every step on the way out.

A :class:`Deadline` is started once, when the stop is asked for, and handed to each step (stop
reading, flush the producer, drain the outbox); each asks :meth:`~Deadline.remaining` how long it
may still wait, so the whole shutdown stays within one budget however the steps split it
(model: quix-streams ``checkpointing/deadline.py``). Time comes from an injected clock.
"""

from __future__ import annotations

from tickwatch.clock import MonotonicClock


class Deadline:
    """A point in monotonic time ``budget_s`` after construction."""

    def __init__(self, budget_s: float, clock: MonotonicClock) -> None:
        self._clock = clock
        self.budget_s = budget_s
        self._started = clock.monotonic()

    @property
    def elapsed(self) -> float:
        """Seconds since the deadline was started."""
        return self._clock.monotonic() - self._started

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.budget_s - self.elapsed)

    def expired(self) -> bool:
        """True once the whole budget is used up (strictly past it)."""
        return self.elapsed > self.budget_s
