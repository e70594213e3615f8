"""How fast messages arrive: a count per second over a sliding window, for the early cut.

The batcher (:mod:`pipeline.load.batch`) counts every message it batches and samples the count
once per loop; the rate is the messages counted since the oldest sample of the window divided by
the time since that sample (at least ``floor_s``, so the first poll of a feed is not read as a
burst). Over a window as long as ``batch_max_ms`` the figure is steady: a producer that stalls
and then delivers what it owed moves rows within the window, not into it, so a quiet table
stays below the early cut's rate and a busy one above it (README "When a batch closes").
"""

from __future__ import annotations

from collections import deque

SAMPLES_PER_WINDOW = 20  # a sample at most every window / 20: the deque stays this short


class ArrivalRate:
    """Messages per second over the last ``window_s`` seconds (monotonic clock readings)."""

    def __init__(self, window_s: float, floor_s: float, now: float) -> None:
        self._window_s = window_s
        self._floor_s = max(floor_s, 1e-3)
        self._every_s = window_s / SAMPLES_PER_WINDOW
        self.count = 0
        self._samples: deque[tuple[float, int]] = deque([(now, 0)])

    def sample(self, now: float) -> None:
        """Record the count at ``now`` (at most every window / 20) and drop the samples that
        fell out of the window, keeping the newest one at or before its start."""
        if now - self._samples[-1][0] >= self._every_s:
            self._samples.append((now, self.count))
        start = now - self._window_s
        while len(self._samples) > 1 and self._samples[1][0] <= start:
            self._samples.popleft()

    @property
    def kept(self) -> int:
        """Samples held: at most about ``SAMPLES_PER_WINDOW`` + 2, whatever the loop rate."""
        return len(self._samples)

    def per_s(self, now: float) -> float:
        """Messages per second since the oldest sample kept (at least ``floor_s`` ago)."""
        since, counted = self._samples[0]
        return (self.count - counted) / max(now - since, self._floor_s)
