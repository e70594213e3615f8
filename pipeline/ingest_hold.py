"""The low-rate hold: while a source is quiet, hand its reads to the producer together.

Why (issue 18): librdkafka puts one partition in each ProduceRequest (its issue 1700), so every
source read sends one request per partition the read touches once ``linger.ms`` expires. At
200 ticks/s a simulator read of ~20 records every ~100 ms touches 7-8 partitions: ~80
requests a second, most of the broker's work at idle. ``linger.ms`` cannot change at run time,
and a longer one would delay every tick at every rate; the hold delays ticks only while the
source is quiet, where the load worker waits for its 1 s deadline anyway (a table fed below
``load.batch_min_rate`` is not cut early).

The rule (:meth:`LowRateHold.offer`): the rate is the records of the reads offered over the
last ``RATE_WINDOW_S`` (the current read included) ÷ ``RATE_WINDOW_S``. At or above
``below_rate`` a read is handed over at once, behind whatever is held (today's path: no added
latency). Below it the read is kept; everything kept is handed over, in order, once the oldest
kept read is ``hold_s`` old (:meth:`LowRateHold.due_in` says when, so an idle worker wakes for
it), or as soon as the kept records and the producer's queue together would exceed
``max_records`` (the queue bound: held records count against it), or when the owner takes them
(:meth:`LowRateHold.take`: stop, checkpoint). A source that turns busy after a quiet spell
has its reads kept until the window holds ``below_rate`` records (a quarter second at 1k
records/s with the defaults), never longer than ``hold_s``; from then on they pass.

Nothing is lost here: a read is either returned to the caller or kept until a later call
returns it; the caller must :meth:`take` before it stops or checkpoints. Each read keeps its own
``recv_ts`` (the time the worker received it), so the records' fields stay true; their Kafka
timestamps are the time they reach the producer, after the hold.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.codec import Payload
from tickwatch.clock import MonotonicClock

RATE_WINDOW_S = 1.0
"""The rate is measured over this many seconds of reads (the load worker's default
``batch_max_ms`` too: the same notion of "a table fed below its rate")."""


@dataclass(frozen=True)
class HeldRead:
    """One source read: its items in order and the time the worker received it (µs)."""

    items: Sequence[Payload]
    recv_ts: int


class LowRateHold:
    """Keeps reads while the recent rate is below ``below_rate`` records/s, up to ``hold_s``.

    ``below_rate`` 0 or ``hold_s`` 0 turns it off (every read passes at once). Not
    thread-safe: the ingest worker's event loop owns it.
    """

    def __init__(
        self, below_rate: float, hold_s: float, max_records: int, clock: MonotonicClock
    ) -> None:
        self._below_rate, self._hold_s = below_rate, hold_s
        self._max_records, self._clock = max_records, clock
        self._recent: deque[tuple[float, int]] = deque()  # (monotonic, records) per read
        self._recent_records = 0
        self._held: list[HeldRead] = []
        self.held_records = 0
        self._due = 0.0  # when the oldest kept read must go (valid while something is held)

    @property
    def enabled(self) -> bool:
        """False when configured off."""
        return self._below_rate > 0 and self._hold_s > 0

    def offer(self, read: HeldRead, queued: int) -> list[HeldRead]:
        """The reads to hand to the producer now, in order (empty while ``read`` is kept).

        ``queued``: messages in the producer's local queue now (held + queued stay within
        ``max_records``).
        """
        if not self.enabled:
            return [read]
        now = self._clock.monotonic()
        self._count(now, len(read.items))
        if self._recent_records / RATE_WINDOW_S >= self._below_rate:
            return [*self.take(), read]
        if not self._held:
            self._due = now + self._hold_s
        self._held.append(read)
        self.held_records += len(read.items)
        if now >= self._due or self.held_records + queued > self._max_records:
            return self.take()
        return []

    def due_in(self) -> float | None:
        """Seconds until the kept reads must be handed over (0 when overdue); None if none."""
        if not self._held:
            return None
        return max(0.0, self._due - self._clock.monotonic())

    def take_due(self) -> list[HeldRead]:
        """The kept reads if they are due (see :meth:`due_in`), else nothing."""
        return self.take() if self.due_in() == 0.0 else []

    def take(self) -> list[HeldRead]:
        """Everything kept, in order, now (before a stop, a checkpoint or a pass-through)."""
        held, self._held, self.held_records = self._held, [], 0
        return held

    def _count(self, now: float, records: int) -> None:
        self._recent.append((now, records))
        self._recent_records += records
        self._forget(now)

    def _forget(self, now: float) -> None:
        while self._recent and self._recent[0][0] <= now - RATE_WINDOW_S:
            self._recent_records -= self._recent.popleft()[1]
