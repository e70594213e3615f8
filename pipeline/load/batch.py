"""Per-partition batches and the rules that close them.

A :class:`Batch` holds a contiguous offset range ``[first_offset, last_offset]`` of one partition:
the valid rows (column buffers) and the dead letters. A batch is *open* while it grows and
*sealed* once closed; a sealed batch's range never changes again, because its range is its
identity (the ClickHouse deduplication token, see :mod:`pipeline.load.worker`).

An open batch is sealed when it holds ``batch_max_rows`` messages, when it is ``batch_max_ms``
old (``batch_backlog_max_ms`` while the consumer is behind; checked by :meth:`Batcher.tick`
against the injected clock), *early* — unless the consumer is behind — once it is
``batch_min_ms`` old, holds at least ``batch_min_rows`` messages, its partition received at least
``batch_min_rate`` messages a second over the last ``batch_max_ms`` (:mod:`pipeline.load.arrivals`;
0 = no rate asked) and the partition has no sealed batch waiting for (or retrying) its insert,
or — for the first batch after
an assignment — exactly when it reaches the *recovery end*, the last offset of a batch a previous
owner may already have inserted. A recovery batch ignores both caps: it must be re-formed exactly.

*Cadence* (table scope, ``batch_cadence_ms`` > 0): a topic fed at ``batch_min_rate`` or more but
less than ``batch_cadence_max_rate`` messages a second is cut ``batch_cadence_ms`` after its
*previous cut* instead of ``batch_min_ms`` after its batch opened — the same early-cut conditions
otherwise (rows, no group in the insert path, not behind). Counted from the batch's opening, each
cycle also held the time from the previous cut to the first poll that brought rows (the intent
commit, the poll's wait) and the poll's overshoot: at 1k ticks/s cycles of 140-170 ms for a
120 ms cut. Above the band the cut stays ``batch_min_ms`` from the opening: there an insert can
take longer than the cadence, and a cut as soon as each insert ends kept the insert threads busy
without pause (README "When a batch closes").

The rate tells a quiet table from a busy one by its feed, not by a row count: at 200 simulator
ticks/s a table gets at most ~133 messages a second, so the deadline closes its batches (<= 1
INSERT/s), while at 1k ticks/s both tables (~667 and ~333 a second) are cut at ``batch_min_ms``.
Over a window of ``batch_max_ms`` a producer's stall and catch-up move rows within the window,
not into it. While a fast table has nothing open, :meth:`Batcher.due_in` asks the loop to poll
for at most a quarter of ``batch_min_ms`` (a poll waits for a full batch of messages or its
timeout), so the rows that came during the last insert open their batch soon after it.

With ``scope="table"`` (``load.batch_scope``, :mod:`pipeline.load.group`) the rules apply to a
topic's open batches together: when the topic's oldest open batch is due or the topic's open
batches hold ``batch_max_rows`` messages, every open batch of the topic is sealed at once
(recovery batches excepted, they keep their recorded end), so the worker can insert them as one
group. The early cut is then table-level too: the topic's oldest open batch is ``batch_min_ms``
old, its open batches hold ``batch_min_rows`` messages together, the topic received
``batch_min_rate`` messages a second, and no partition of the topic has a sealed batch waiting
for (or retrying) its insert — one group per table in the insert path, the next one cut as soon
as the previous insert finished, bounded by rows and time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.codec import RecordType
from pipeline.dlq import DeadLetter
from pipeline.load.arrivals import ArrivalRate
from pipeline.load.group import MemberRange
from pipeline.load.tables import ColumnBuffer
from tickwatch.backoff import Backoff
from tickwatch.clock import Clock
from tickwatch.types import TopicPartitionKey

REOPEN_FRACTION = 0.25  # a fast table short of rows: poll at most 1/4 of the early interval


@dataclass(eq=False)
class Batch:
    """One partition's messages ``[first_offset, last_offset]``: valid rows and dead letters."""

    topic: str
    partition: int
    kind: RecordType
    first_offset: int
    opened_at: float
    last_offset: int = -1
    rows: ColumnBuffer = field(init=False)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # Row index ranges [lo, hi) still to insert once the whole batch was rejected (bisection,
    # see :mod:`pipeline.load.insert`); None while the batch is inserted as one.
    pieces: list[tuple[int, int]] | None = None
    # The recorded group this batch re-forms as one member (a recovery batch of a v2 intent,
    # :mod:`pipeline.load.group`); None for a free batch or a v1 recovery batch.
    recorded: tuple[MemberRange, ...] | None = None
    recovered: bool = False  # cut at a recorded end (a v1 intent's or a group member's)

    def __post_init__(self) -> None:
        self.rows = ColumnBuffer(self.kind)
        self.last_offset = self.first_offset - 1

    @property
    def size(self) -> int:
        """Messages in the batch, valid or not."""
        return len(self.rows) + len(self.dead_letters)

    def token(self) -> str:
        """``topic:partition:first-last``, the ClickHouse insert_deduplication_token."""
        return f"{self.topic}:{self.partition}:{self.first_offset}-{self.last_offset}"

    def row_partition(self, index: int) -> int:
        """The Kafka partition of row ``index`` (one partition per batch; a group differs)."""
        return self.partition

    def piece_token(self, lo: int, hi: int) -> str:
        """The token of rows ``[lo, hi)`` of a bisected batch: ``<token>/<first>-<last>``, the
        Kafka offsets of the piece's first and last row. Derived from the rows only, so a replay
        that re-forms the batch derives the same token for the same piece."""
        offsets = self.rows.offsets
        return f"{self.token()}/{offsets[lo]}-{offsets[hi - 1]}"


@dataclass(frozen=True, slots=True)
class OffsetJump:
    """The consumer's position in a partition moved: ``expected`` was next, ``actual`` came.

    ``reset`` False: the offsets in between are transaction markers or aborted records (see
    :mod:`pipeline.load.gaps`), not a position reset."""

    topic: str
    partition: int
    expected: int
    actual: int
    reset: bool = True


# (partition, expected, actual) -> a position reset? (see pipeline.load.gaps.GapClassifier)
GapRule = Callable[[TopicPartitionKey, int, int], bool]


@dataclass
class PartitionState:
    """What the batcher knows about one assigned partition."""

    kind: RecordType
    recovery_end: int | None = None
    next_offset: int = -1
    open: Batch | None = None
    sealed: deque[Batch] = field(default_factory=deque)
    retry_at: float = 0.0
    failures: int = 0
    committed: int | None = None  # the committed offset at assignment: the first one expected
    recovery_group: tuple[MemberRange, ...] | None = None  # the recorded group of recovery_end

    @property
    def pending(self) -> int:
        return sum(b.size for b in self.sealed) + (self.open.size if self.open else 0)


class Batcher:
    """Forms batches for every assigned partition. Never blocks; reads only the injected clock."""

    def __init__(
        self,
        max_rows: int,
        max_ms: int,
        clock: Clock,
        backlog_max_ms: int | None = None,
        *,
        gap_rule: GapRule | None = None,
        min_ms: int = 0,
        min_rows: int = 1,
        scope: str = "partition",
        min_rate: float = 0.0,
        cadence_ms: int = 0,
        cadence_max_rate: float = 0.0,
    ) -> None:
        self._max_rows = max_rows
        self._max_s = max_ms / 1000
        self._backlog_max_s = max(max_ms, backlog_max_ms or max_ms) / 1000
        # The early cut (0 = off): never later than the age limit, never for fewer than one row.
        self._min_s = min(min_ms, max_ms) / 1000 if min_ms > 0 else None
        self._min_rows = max(1, min_rows)
        self._min_rate = max(0.0, min_rate)  # rows/s the early cut also asks for (0 = off)
        self._clock = clock
        self.partitions: dict[TopicPartitionKey, PartitionState] = {}
        self.jumps: list[OffsetJump] = []
        self._gap_rule = gap_rule
        self._table_scope = scope == "table"
        self._open_rows: dict[str, int] = {}  # table scope: messages in a topic's free open batches
        # The early cut's rate, per topic (table scope) or partition, over batch_max_ms
        self._arrivals: dict[str | TopicPartitionKey, ArrivalRate] = {}
        # The cadence (table scope, with the early cut): cut this long after the topic's
        # previous cut while its rate is below cadence_max_rate; None = off.
        on = self._table_scope and self._min_s is not None and cadence_ms > 0
        self._cadence_s = min(cadence_ms, max_ms) / 1000 if on else None
        self._cadence_max_rate = cadence_max_rate
        self._last_cut: dict[str, float] = {}  # table scope: when each topic was last cut

    def assign(
        self,
        key: TopicPartitionKey,
        kind: RecordType,
        recovery_end: int | None,
        committed: int | None = None,
        recovery_group: tuple[MemberRange, ...] | None = None,
    ) -> None:
        """Start batching ``key``; ``recovery_end`` (with ``recovery_group`` for a group's
        member) is the recorded end its first batch is cut at."""
        self.partitions[key] = PartitionState(
            kind, recovery_end, committed=committed, recovery_group=recovery_group
        )
        if self._min_rate:
            self._arrival(key)  # counts from the assignment: a first poll is no burst

    def take_jumps(self) -> list[OffsetJump]:
        """Offset jumps since the last call, resets and transaction gaps (see
        :meth:`_check_position`); clears the list."""
        jumps, self.jumps = self.jumps, []
        return jumps

    def revoke(self, key: TopicPartitionKey) -> int:
        """Forget a partition and its batches (never committed); return the messages dropped."""
        state = self.partitions.pop(key, None)
        self._arrivals.pop(key, None)  # partition scope (table scope: the topic's stays)
        if self._table_scope:
            self._open_rows[key[0]] = sum(
                s.open.size for (t, _), s in self.partitions.items()
                if t == key[0] and s.open is not None and s.recovery_end is None
            )  # fmt: skip
        return state.pending if state else 0

    def open_batch(self, key: TopicPartitionKey, offset: int) -> Batch | None:
        """The batch the message at ``offset`` belongs to; None = already batched, skip it.

        Call :meth:`added` after putting the message in the returned batch.
        """
        state = self.partitions[key]
        if offset != state.next_offset:
            if offset < state.next_offset:
                return None
            self._check_position(key, state, offset)
        if state.recovery_end is not None and offset > state.recovery_end:
            self._end_recovery(state)  # the recovery range is complete (or gone)
        if state.open is None:
            state.open = Batch(key[0], key[1], state.kind, offset, self._clock.monotonic())
        state.next_offset = offset + 1
        state.open.last_offset = offset
        return state.open

    def added(self, key: TopicPartitionKey) -> None:
        """Seal the open batch if it reached its recovery end or ``batch_max_rows``."""
        state = self.partitions[key]
        batch = state.open
        assert batch is not None
        if self._min_rate:
            self._arrival(key).count += 1
        if state.recovery_end is not None:
            if batch.last_offset >= state.recovery_end:
                self._end_recovery(state)
        elif self._table_scope:
            rows = self._open_rows.get(key[0], 0) + 1
            self._open_rows[key[0]] = rows
            if rows >= self._max_rows:
                self._seal_topic(key[0])
        elif batch.size >= self._max_rows:
            self._seal(state)

    def tick(self, backlogged: bool = False) -> None:
        """Seal every open batch that is due (recovery batches excepted): older than
        ``batch_max_ms``, or early (see :meth:`_early_from` and :meth:`_fast_enough`) when
        the consumer keeps up.

        ``backlogged`` (the consumer is behind: more is waiting in Kafka) stretches the
        age to ``batch_backlog_max_ms`` and turns the early cut off, so a worker catching up
        inserts batches that fill towards ``batch_max_rows`` instead of one small batch per
        partition every loop (fewer, larger INSERTs: less ClickHouse work per row). Any cut is
        safe for exactly-once: only a recorded batch must be re-formed, and recovery batches
        are cut at their recorded end whatever the clock says.
        """
        now = self._clock.monotonic()
        for arrivals in self._arrivals.values():
            arrivals.sample(now)
        due_topics = set()
        busy = self._busy_topics()
        oldest = self._oldest_open()
        for (topic, _), state in self.partitions.items():
            due = self._due_at(topic, state, backlogged, busy=busy, now=now, oldest=oldest)
            if due is not None and now >= due:
                if self._table_scope:
                    due_topics.add(topic)
                else:
                    self._seal(state)
        for topic in due_topics:
            self._seal_topic(topic)

    def _seal_topic(self, topic: str) -> None:
        """Table scope: seal every open batch of ``topic`` (recovery batches excepted)."""
        for (name, _), state in self.partitions.items():
            if name == topic and state.recovery_end is None:
                self._seal(state)
        self._open_rows[topic] = 0
        self._last_cut[topic] = self._clock.monotonic()

    def _end_recovery(self, state: PartitionState) -> None:
        """The recovery batch reached its recorded end: seal it as the recorded group's
        member (if it is one)."""
        if state.open is not None:
            state.open.recorded = state.recovery_group
            state.open.recovered = True
        state.recovery_end = None
        state.recovery_group = None
        self._seal(state)

    def due_in(self, backlogged: bool = False) -> float | None:
        """Seconds until :meth:`tick` seals the next open batch (0 when one is due now); None
        when no open batch can be sealed by time. Lets the loop poll no longer than that."""
        now = self._clock.monotonic()
        busy, oldest = self._busy_topics(), self._oldest_open()
        each = (
            self._due_at(t, s, backlogged, busy=busy, now=now, oldest=oldest)
            for (t, _), s in self.partitions.items()
        )
        dues = [d for d in each if d is not None]
        if not backlogged and self._min_s is not None and self._fast_and_short(now, busy):
            dues.append(now + min(self._min_s, self._cadence_s or self._min_s) * REOPEN_FRACTION)
        return max(0.0, min(dues) - now) if dues else None

    def _fast_and_short(self, now: float, busy: set[str]) -> bool:
        """A table (partition scope: partition) fed at ``batch_min_rate`` or more has nothing in
        the insert path and fewer than ``batch_min_rows`` messages open (none, or too few to be
        cut early yet). A poll waits for a full ``poll_batch`` or its timeout, and its rows count
        only when it returns: without a shorter poll the rows that came during the last insert
        would wait the poll's whole timeout *and* then ``batch_min_ms``, and a batch short of
        the row floor at its early time would wait a whole poll timeout past it (measured at 1k
        ticks/s with the cadence: a seventh of the `trades` cycles and a third of the `quotes`
        ones took ~150 ms instead of 80). The poll returns after ``REOPEN_FRACTION`` of the
        early cut's interval (the cadence's, if shorter) instead (never at once: with nothing
        to read that would spin)."""
        if self._min_s is None or not self._min_rate:
            return False
        if self._table_scope:
            return any(
                self._open_rows.get(topic, 0) < self._min_rows and topic not in busy
                and self._arrival((topic, -1)).per_s(now) >= self._min_rate
                for topic in {t for t, _ in self.partitions}
            )  # fmt: skip
        return any(
            (s.open is None or s.open.size < self._min_rows) and not s.sealed
            and self._arrival(key).per_s(now) >= self._min_rate
            for key, s in self.partitions.items()
        )  # fmt: skip

    def _due_at(
        self,
        topic: str,
        state: PartitionState,
        backlogged: bool,
        *,
        busy: set[str],
        now: float,
        oldest: dict[str, float],
    ) -> float | None:
        """When the partition's open batch is due (monotonic seconds), or None (none is open,
        or it is a recovery batch). ``busy``: the topics with a sealed batch (table scope);
        ``oldest``: when each topic's oldest free open batch opened (table scope)."""
        batch = state.open
        if batch is None or not batch.size or state.recovery_end is not None:
            return None
        if backlogged:
            return batch.opened_at + self._backlog_max_s
        since = self._early_from(topic, state, busy, oldest)
        if since is not None and self._fast_enough((topic, batch.partition), batch, now):
            assert self._min_s is not None
            cadence = self._cadence_due(topic, now)
            return since + self._min_s if cadence is None else cadence
        return batch.opened_at + self._max_s

    def _cadence_due(self, topic: str, now: float) -> float | None:
        """Table scope: ``batch_cadence_ms`` after the topic's previous cut while its rate is
        below ``batch_cadence_max_rate`` (the caller checked the early cut's conditions); None
        when the cadence is off, the topic was never cut, or it is fed faster."""
        last = self._last_cut.get(topic)
        if self._cadence_s is None or last is None:
            return None
        if self._arrival((topic, -1)).per_s(now) >= self._cadence_max_rate:
            return None
        return last + self._cadence_s

    def _early_from(
        self, topic: str, state: PartitionState, busy: set[str], oldest: dict[str, float]
    ) -> float | None:
        """When the batch (table scope: the topic's oldest free open batch) opened, the time
        ``batch_min_ms`` counts from; None when the early cut does not apply: it is off, or the
        previous batch is not inserted yet (one sealed waits or retries) — so at most one batch
        (a group, in table scope) is in the insert path and a slow ClickHouse makes the batches
        grow by itself. Partition scope counts the partition's batch and queue; table scope the
        topic's free open batches and every partition of the topic."""
        if self._min_s is None:
            return None
        if self._table_scope:
            return None if topic in busy else oldest[topic]
        if state.sealed or state.open is None:
            return None
        return state.open.opened_at

    def _fast_enough(self, key: TopicPartitionKey, batch: Batch, now: float) -> bool:
        """The batch (table scope: the topic's free open batches together) holds at least
        ``batch_min_rows`` messages and, with a ``batch_min_rate``, its partition (table scope:
        its topic) received at least that many messages a second over the last
        ``batch_max_ms`` (:class:`~pipeline.load.arrivals.ArrivalRate`): a table fed slower
        than the rate is closed by the deadline, one fed faster is cut at ``batch_min_ms``."""
        rows = self._open_rows.get(key[0], 0) if self._table_scope else batch.size
        if rows < self._min_rows:
            return False
        return not self._min_rate or self._arrival(key).per_s(now) >= self._min_rate

    def _arrival(self, key: TopicPartitionKey) -> ArrivalRate:
        """The arrival rate the early cut reads for ``key``: its topic's in table scope."""
        scope: str | TopicPartitionKey = key[0] if self._table_scope else key
        arrivals = self._arrivals.get(scope)
        if arrivals is None:
            now = self._clock.monotonic()
            arrivals = self._arrivals[scope] = ArrivalRate(self._max_s, self._min_s or 0, now)
        return arrivals

    def _oldest_open(self) -> dict[str, float]:
        """Table scope: when each topic's oldest free open batch (with messages) opened."""
        oldest: dict[str, float] = {}
        if not self._table_scope or self._min_s is None:
            return oldest
        for (topic, _), s in self.partitions.items():
            if s.open is not None and s.open.size and s.recovery_end is None:
                opened = s.open.opened_at
                oldest[topic] = min(opened, oldest.get(topic, opened))
        return oldest

    def _busy_topics(self) -> set[str]:
        """Table scope: the topics with a sealed batch waiting for (or retrying) its insert."""
        if not self._table_scope or self._min_s is None:
            return set()
        return {topic for (topic, _), s in self.partitions.items() if s.sealed}

    def seal_all(self) -> None:
        """Seal every open batch that may be sealed now (for shutdown)."""
        now = self._clock.monotonic()
        for (topic, _), state in self.partitions.items():
            if state.recovery_end is None:
                if state.open is not None and state.open.size and self._table_scope:
                    self._last_cut[topic] = now
                self._seal(state)
        self._open_rows.clear()

    def ready(self) -> list[Batch]:
        """The oldest sealed batch of each partition whose retry time has come."""
        now = self._clock.monotonic()
        return [s.sealed[0] for s in self.partitions.values() if s.sealed and s.retry_at <= now]

    def done(self, batch: Batch) -> None:
        """``batch`` is inserted and committed; drop it."""
        state = self.partitions.get((batch.topic, batch.partition))
        if state and state.sealed and state.sealed[0] is batch:
            state.sealed.popleft()
            state.retry_at = 0.0
            state.failures = 0

    def retry_later(self, batch: Batch, backoff: Backoff, at_least: float = 0.0) -> float:
        """Hold ``batch``'s partition back for the next backoff delay (``at_least`` seconds);
        return that delay."""
        state = self.partitions.get((batch.topic, batch.partition))
        if state is None:
            return 0.0
        delay = max(backoff.delay(state.failures), at_least)
        state.failures += 1
        state.retry_at = self._clock.monotonic() + delay
        return delay

    def backing_off(self) -> set[TopicPartitionKey]:
        """Partitions whose oldest batch failed and waits for a retry."""
        return {key for key, s in self.partitions.items() if s.failures}

    def pending(self) -> int:
        """Messages held in all batches, open and sealed."""
        return sum(s.pending for s in self.partitions.values())

    def has_sealed(self) -> bool:
        return any(s.sealed for s in self.partitions.values())

    def _check_position(self, key: TopicPartitionKey, state: PartitionState, offset: int) -> None:
        """Record an :class:`OffsetJump` when ``offset`` is not the one expected: the first
        message after an assignment should be at the committed offset, every later one right
        after the previous one. The record topics are produced with transactions (replay,
        backfill), so a ``read_committed`` consumer legitimately skips commit/abort markers
        and aborted records; the ``gap_rule`` (queried only here, when a jump is seen) tells
        such a gap (``reset=False``) from a real reset. Without a rule every jump is a reset.

        A reset at assignment also forgets the recovery end: that batch cannot be re-formed.
        A transaction gap keeps it: the recorded batch starts at the committed offset, which
        is a delivered record's, so its messages are all still there."""
        expected = state.next_offset if state.next_offset >= 0 else state.committed
        if expected is None or offset == expected:
            return
        reset = self._gap_rule is None or self._gap_rule(key, expected, offset)
        self.jumps.append(OffsetJump(key[0], key[1], expected, offset, reset))
        if reset and state.next_offset < 0:
            state.recovery_end = None
            state.recovery_group = None

    @staticmethod
    def _seal(state: PartitionState) -> None:
        if state.open is not None and state.open.size:
            state.sealed.append(state.open)
        state.open = None
