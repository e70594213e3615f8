"""Exponential backoff without sleeping: the caller schedules the retry on its own clock."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays ``initial_s * 2**n`` seconds after the n-th consecutive failure, capped."""

    initial_s: float
    max_s: float

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` earlier consecutive failures (0 = the first failure)."""
        return min(self.max_s, self.initial_s * float(2 ** min(failures, 32)))
