"""The load worker: Kafka topics -> ClickHouse tables, every accepted tick exactly once.

Chain of steps: poll (:class:`confluent_kafka.Consumer`, manual commits) -> decode and validate
(:mod:`pipeline.load.decode`) -> per-partition batches (:mod:`pipeline.load.batch`) -> insert
(:mod:`pipeline.load.insert`) -> commit (:mod:`pipeline.load.commit`).

Order of operations for one batch ``[first, last]`` of a partition (:meth:`LoadWorker.flush_ready`):

1. commit offset ``first`` with metadata ``end=last`` (the *intent*), synchronously;
2. insert the valid rows with token ``topic:partition:first-last``, then the dead letters into
   ``{ops}.dead_letters`` with token ``dlq:topic:partition:first-last``;
3. produce the dead letters to the DLQ topic and flush the producer;
4. commit offset ``last + 1``, synchronously.

With ``load.inserts_in_flight`` > 0 (the default) step 2 runs on the insert thread
(:mod:`pipeline.load.inflight`) while this loop polls and decodes on; steps 3 and 4 follow here
once the loop has collected the insert's success, and a partition with an insert in flight
records no new intent. Every argument below holds per partition unchanged (why: that module).

Why a kill -9 at any moment, a rebalance, or a ClickHouse restart leaves every row exactly once:

* Nothing is inserted before step 1 succeeded, and step 1 is a commit at the partition's current
  committed offset, so the committed record always describes the one batch that may be in
  ClickHouse beyond the committed offset: ``(first, end=last)``.
* Whoever resumes the partition (this process restarted, or another member after a rebalance)
  reads that record (:meth:`OffsetCommitter.recovery_ends`) and re-forms its first batch as
  exactly ``[first, last]`` — the same messages, hence the same token. ClickHouse drops a block
  whose token it has seen (``non_replicated_deduplication_window``), in the table and, with
  ``deduplicate_blocks_in_dependent_materialized_views``, in the candle views' state tables; a
  batch that was only half written (table yes, view no; one part of several) is completed.
* A batch that never got its intent recorded was never inserted: its messages are read again
  after the committed offset and may be cut differently — harmless, since none of them is in
  ClickHouse. Time-triggered cuts therefore need no extra bookkeeping.
* Step 4 only advances the committed offset past a batch that is fully in ClickHouse and whose
  dead letters were delivered; if it is lost, the next batch's intent commit advances it, or a
  replay deduplicates.
* Rebalance: revoked partitions' batches are *dropped without committing* (:meth:`_on_revoke`):
  the new owner replays them from the committed offset, re-forming a recorded batch exactly.
  A revoked partition is resumed first, so one that comes back is fetched again.
  A member that lost its partition cannot commit a new intent (stale generation is refused); if
  it inserts a batch whose intent it recorded just before losing the partition, the new owner
  forms the very same batch, so the two inserts carry one token.
* ClickHouse down (a *transient* error, :mod:`tickwatch.clickhouse_errors`, raised by the
  insert step as the typed "slow down" :class:`~pipeline.errors.MessageRejected` and caught in
  one place, :meth:`LoadWorker._write`): the failing batch stays sealed, unchanged, and is
  retried after ``max(retry_after, exponential backoff)`` while its partition is paused;
  polling goes on, so the consumer keeps its group membership. Memory is bounded by
  ``load.buffer_budget_mb`` (:mod:`pipeline.load.memory`: librdkafka's prefetch queue and the
  pending rows; all partitions are paused when the rows reach their share).
* ClickHouse rejects the rows (a *permanent* error): the batch is bisected, each piece with a
  token derived from the batch's token and the piece's offsets, and the rejected rows join the
  batch's dead letters (:mod:`pipeline.load.insert` has the argument why a replay re-forms the
  same pieces). The partition moves on; nothing stalls on a deterministic rejection. A statement
  ClickHouse refuses whatever the rows (unknown table, privileges) is fatal: the worker stops.
* One poll loop inserts for at most ``flush_budget_s`` (plus the insert under way); a batch not
  reached, or a bisection not finished, waits for the next loop, so polling never stops for
  longer than the budget and the member stays in its group.

Groups (``load.batch_scope = "table"``, the default; ``"partition"`` is the order above): the
batcher seals a topic's open batches together (:mod:`pipeline.load.batch`), and
:meth:`LoadWorker.flush_ready` inserts the sealed ones of a topic (and shard) as ONE group,
token ``topic:g:<p>:<first>-<last>,...``:

1. the intent of every member ``p`` — offset ``first_p``, metadata naming the whole group — in
   ONE commit call; only members whose previous "done" commit was confirmed join a new group;
2. the insert, only if every member's intent succeeded in that call (otherwise the same group
   is retried whole, later); then its dead letters (``dlq:`` + the group token) and the DLQ
   flush, as above;
3. "done" (``last_p + 1``) for every member *this worker owns*.

Recovery: on assignment the worker reads the committed records of every partition of its
topics (``consumer.committed()`` answers for partitions it does not own) and re-forms each
recorded group that names one of its partitions and that is not behind it there: its own
members exactly to their recorded ends (as recovery batches), the others' ranges through a side
consumer (:mod:`pipeline.load.ranges`) and the same decoder; it inserts the group with the same
token and commits "done" only for its own members (the classic group protocol accepts a commit
from any member: committing another owner's partition could move its offset back). Why every
reachable state makes that insert right — a partial intent is rolled forward, never voided — is
the docstring of :mod:`pipeline.load.group`. Bisection of a group gives each piece a token
naming the (partition, offset) of its first and last row: offsets alone repeat across
partitions. A member of a recorded group is positioned at the group's recorded ``first`` when it
is assigned (:meth:`LoadWorker._on_assign`), whatever ``auto.offset.reset`` says: a member with
nothing committed would otherwise start at the log's end under ``latest`` and never re-form the
group. Rebalance: a group with a revoked member is dropped whole. That relies on the *eager*
rebalance protocol, where a revoke takes every partition at once (librdkafka's default
assignors, ``range,roundrobin``, and the classic group protocol; the consumer configuration is
fixed in :mod:`pipeline.load_cli`, which refuses a cooperative one at start-up,
:func:`check_eager_rebalance`): no member of a dropped group stays owned with batches that
reference it. A partial revoke is therefore refused as fatal (:meth:`LoadWorker._on_revoke`)
rather than handled on an untested path. A partition paused when it is revoked is resumed
first: librdkafka keeps an application pause across assignments. Switching from ``"table"``
back to ``"partition"`` needs every load worker stopped gracefully first (a partition-scoped
worker reads only its own partitions' records).

Limits: the Kafka DLQ copy is at least once (a replayed batch produces its dead letters again);
a replay must come within the table's last ``non_replicated_deduplication_window`` inserts —
sized from the partitions and batch rate (an upper bound for groups too: a group is one
insert where the partitions would have made one each) and checked at start-up
(:mod:`tickwatch.dedup_window`; on a cluster, per shard: :mod:`pipeline.load.shards`); if
retention deleted part of a recorded batch before it was replayed, the remainder is inserted
under a different token.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from confluent_kafka import Consumer, KafkaException, TopicPartition
from loguru import logger
from opentelemetry import trace

from pipeline.codec import RecordType
from pipeline.dlq import DeadLetterQueue
from pipeline.errors import FatalError, MessageRejected
from pipeline.load.batch import Batch, Batcher
from pipeline.load.commit import OffsetCommitter, parse_intent
from pipeline.load.decode import MessageDecoder
from pipeline.load.events import PipelineEvents
from pipeline.load.gaps import GapClassifier
from pipeline.load.group import (
    MemberRange,
    Record,
    Recovery,
    recorded_groups,
    recoveries,
    split_members,
)
from pipeline.load.group_batch import GroupBatch, member_ranges
from pipeline.load.inflight import InsertLane, owned_members, traced_write
from pipeline.load.lag import report_lag
from pipeline.load.memory import budget
from pipeline.load.ranges import RangeReader, RangeUnavailable
from pipeline.load.shards import BatchWriter
from pipeline.load.tables import TABLES
from tickwatch.backoff import Backoff
from tickwatch.clock import Clock
from tickwatch.settings import ClickHouseSettings, LoadSettings
from tickwatch.telemetry.catalog import LoadMetrics
from tickwatch.types import TopicPartitionKey

POLL_TIMEOUT_S = 0.1
# The poll timeout while an insert is on the insert thread (pipeline.load.inflight): its end is
# noticed within this, so its "done" commit and the next batch of its partitions wait no longer.
IN_FLIGHT_POLL_S = 0.01
_tracer = trace.get_tracer("tickwatch.load")


def poll_loop_bound_s(load: LoadSettings, connect_timeout_s: float) -> float:
    """The longest one :meth:`LoadWorker.step` can block, in seconds.

    A loop inserts until ``flush_budget_s`` is spent; the last insert it starts may take its
    whole timeout (a connect, retried once by urllib3, then ``insert_timeout_s`` to send and
    receive), followed by the batch's dead-letter insert, the two offset commits and the DLQ
    flush and one watermark lookup for an offset gap (``kafka_timeout_s`` each, see
    :mod:`pipeline.load.gaps`); an assignment in that poll adds one ClickHouse query per
    record topic (``offset_missing``, :mod:`pipeline.load.events`). With the insert thread
    (``load.inserts_in_flight`` > 0) the loop inserts nothing itself; instead a revoke waits up
    to ``flush_budget_s`` for the inserts in flight and commits their "done". It must stay below
    ``max_poll_interval_ms``.
    """
    insert_s = 2 * min(connect_timeout_s, load.insert_timeout_s) + load.insert_timeout_s
    kafka_s = 4 * load.kafka_timeout_s  # two commits, the DLQ flush, a failed watermark lookup
    # on assignment, the topics' partitions (batch_scope "table", which then reads every
    # partition's record at once) or a second read of records (a recorded group's other
    # members); a retried "done" rides in the intent commit; side reads of members' ranges fit
    # in the flush budget (pipeline.load.ranges)
    kafka_s += load.kafka_timeout_s
    assign_s = len(RecordType) * insert_s
    # Pipelined (pipeline.load.inflight): no insert blocks the loop, but a revoke waits up to
    # flush_budget_s for the insert thread, then commits its "done" and flushes its dead letters.
    if load.inserts_in_flight:
        inserts_s = load.flush_budget_s + 2 * load.kafka_timeout_s
    else:
        inserts_s = 2 * insert_s
    return load.flush_budget_s + inserts_s + kafka_s + assign_s + POLL_TIMEOUT_S


class LoadWorker:
    """One consumer-group member. Every Kafka call and callback runs on the thread that calls
    :meth:`step`; with ``load.inserts_in_flight`` > 0 only the INSERTs run on the insert thread
    of :attr:`inserts` (:mod:`pipeline.load.inflight`)."""

    def __init__(
        self,
        *,
        consumer: Consumer,
        writer: BatchWriter,
        dlq: DeadLetterQueue,
        kinds: dict[str, RecordType],
        decoder: MessageDecoder,
        settings: LoadSettings,
        metrics: LoadMetrics,
        clock: Clock,
        events: PipelineEvents | None = None,
        ranges: RangeReader | None = None,
        shards: int = 1,
    ) -> None:
        self._consumer = consumer
        self._writer = writer
        self._dlq = dlq
        self._kinds = kinds
        self._decoder = decoder
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._committer = OffsetCommitter(consumer, metrics, settings.kafka_timeout_s)
        self._events = events or PipelineEvents(
            None, ClickHouseSettings(), metrics=metrics, clock=clock,
            policy=settings.auto_offset_reset,
        )  # fmt: skip
        self._backoff = Backoff(
            settings.retry_initial_s, max(settings.retry_max_s, settings.retry_initial_s)
        )
        self._gaps = GapClassifier(
            lambda tp, t: consumer.get_watermark_offsets(tp, timeout=t, cached=False),
            settings.kafka_timeout_s,
        )
        self.batcher = Batcher(
            settings.batch_max_rows,
            settings.batch_max_ms,
            clock,
            settings.batch_backlog_max_ms,
            gap_rule=self._gaps.is_reset,
            min_ms=settings.batch_min_ms,
            min_rows=settings.batch_min_rows,
            scope=settings.batch_scope,
            min_rate=settings.batch_min_rate,
            cadence_ms=settings.batch_cadence_ms,
            cadence_max_rate=settings.batch_cadence_max_rate,
        )
        self._table = settings.batch_scope == "table"
        self._ranges = ranges
        self._shards = max(1, shards)  # groups never span shards (pipeline.load.shards)
        self._fresh: dict[TopicPartitionKey, GroupBatch] = {}  # member -> its formed group
        self._recovering: dict[tuple[str, tuple[MemberRange, ...]], GroupBatch] = {}
        self._unconfirmed: dict[TopicPartitionKey, int] = {}  # "done" commits that failed
        self._behind = False  # lag of the last poll >= backlog_lag_messages
        self._paused: set[TopicPartitionKey] = set()
        self._memory_full = False
        self.memory = budget(settings)  # raises at start-up when too small for one batch
        # The insert thread (pipeline.load.inflight); None: inserts block the poll loop.
        self.inserts = (
            InsertLane(
                writer, settings.inserts_in_flight, per_topic=settings.insert_thread_per_table
            )
            if settings.inserts_in_flight
            else None
        )

    def run(self, stop: threading.Event, shutdown_timeout_s: float) -> None:
        """Subscribe and loop until ``stop`` is set, then :meth:`drain` and close the consumer
        (which revokes the partitions: anything still batched is dropped, uncommitted)."""
        self.subscribe()
        try:
            while not stop.is_set():
                self.step()
            self.drain(shutdown_timeout_s)
        finally:
            self._consumer.close()
            if self.inserts is not None:
                self.inserts.close()
            self._dlq.close(self._settings.kafka_timeout_s)
            if self._ranges is not None:
                self._ranges.close()

    def subscribe(self) -> None:
        """Join the group; partitions arrive (and leave) through the rebalance callbacks."""
        self._consumer.subscribe(
            list(self._kinds),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )

    def step(self) -> None:
        """Poll once, batch what came, insert and commit every batch that is ready.

        Spans only for work done: a poll that brought nothing records none (issue 18); one
        that did records ``load.poll`` (from before the call) and ``load.decode``."""
        polled_ns = int(self._clock.time() * 1e9)
        messages = self._consumer.consume(self._settings.poll_batch, self._poll_timeout_s())
        self._gaps.new_poll()
        if messages:
            span = _tracer.start_span("load.poll", start_time=polled_ns)
            span.set_attribute("messages", len(messages))
            span.end()
            with _tracer.start_as_current_span("load.decode") as span:
                span.set_attribute("rows", self._decoder.add(messages, self.batcher))
            for jump in self.batcher.take_jumps():
                if jump.reset:
                    self._events.jumped(jump)
                else:
                    self._events.gap(jump)
            lag = report_lag(self._consumer, self._decoder.newest, self._metrics, self._clock)
            self._behind = lag >= self._settings.backlog_lag_messages
        else:
            self._behind = False  # nothing came: nothing is waiting
        self.batcher.tick(backlogged=self._behind)
        self.flush_ready()
        self._events.flush()
        self._apply_backpressure()

    def _poll_timeout_s(self) -> float:
        """At most ``POLL_TIMEOUT_S``, and no longer than until the next open batch is due: a
        batch is sealed and inserted at its time, not after a poll that waits for more."""
        due = self.batcher.due_in(self._behind)
        wait = POLL_TIMEOUT_S if due is None else min(POLL_TIMEOUT_S, due)
        if self.inserts is not None and self.inserts.in_flight():
            wait = min(wait, IN_FLIGHT_POLL_S)
        return wait

    def flush_ready(self) -> int:
        """Insert and commit the ready batches (order in the module docstring); return how many
        were finished ("done" committed) in this call.

        Synchronous (``load.inserts_in_flight = 0``): blocks for the commits, the inserts and
        the DLQ flush. Pipelined (:mod:`pipeline.load.inflight`): first collects the inserts the
        insert thread finished (DLQ flush, "done"), then commits the intents of the ready
        batches of partitions with no insert in flight, as many as the lane has room for, and
        hands them to the insert thread without waiting. Failures are not raised: a batch that
        failed stays sealed and is retried after its partition's backoff delay.
        """
        finished = self._collect()
        if finished:  # a topic whose insert just ended may be cut early now, not a loop later
            self.batcher.tick(backlogged=self._behind)
        if self.inserts is not None and not self.inserts.free:
            return finished  # no group is formed that could not be inserted now
        ready = self.batcher.ready()
        if self.inserts is not None:  # a partition in flight joins no new intent
            busy = self.inserts.busy_keys()
            ready = [b for b in ready if (b.topic, b.partition) not in busy]
        if not ready:
            return finished
        until = self._clock.monotonic() + self._settings.flush_budget_s
        singles = [b for b in ready if b.recorded is None and (b.recovered or not self._table)]
        grouped = [b for b in ready if b.recorded is not None or (self._table and not b.recovered)]
        done = self._flush_singles(singles, until) if singles else 0
        return finished + done + (self._flush_groups(grouped, until) if grouped else 0)

    def _flush_singles(self, ready: list[Batch], until: float) -> int:
        """Per-partition batches (and v1 recovery batches): intent, insert, done."""
        if self.inserts is not None:  # as many as the insert thread has room for
            ready = ready[: self.inserts.free]
        recorded = self._committer.record_intents(ready) if ready else []
        for batch in ready:
            if batch not in recorded:
                self.batcher.retry_later(batch, self._backoff)
        return self._finish_singles(self._insert(recorded, until))

    def _finish_singles(self, written: list[Batch]) -> int:
        """Inserted batches: their dead letters to the DLQ topic, flushed, then "done"."""
        for batch in written:
            if batch.dead_letters:
                self._dlq.send(batch.dead_letters)
        if any(b.dead_letters for b in written) and not self._deliver_dead_letters(written):
            written = [b for b in written if not b.dead_letters]
        self._done(written)
        return len(written)

    def _flush_groups(self, ready: list[Batch], until: float) -> int:
        """Groups (order and argument in :mod:`pipeline.load.group`): the recorded groups to
        re-form, and new groups of the free batches, whose intents are committed in ONE call;
        a group is inserted only if every member's intent succeeded, then "done" is committed
        for the members this worker owns."""
        groups = self._recovery_groups([b for b in ready if b.recorded is not None], until)
        fresh = self._fresh_groups([b for b in ready if b.recorded is None])
        if self.inserts is not None:  # recorded groups first, then new intents, while room
            room = self.inserts.free
            groups = groups[:room]
            started = [g for g in fresh if g.intent_recorded][: room - len(groups)]
            new = [g for g in fresh if not g.intent_recorded]
            fresh = started + new[: max(0, room - len(groups) - len(started))]
        pending = [g for g in fresh if not g.intent_recorded]
        retry = [TopicPartition(t, p, o) for (t, p), o in self._unconfirmed.items()]
        recorded, confirmed = self._committer.record_group_intents(pending, retry)
        for key in confirmed:  # retried in the same call: joins a group from the next loop
            self._unconfirmed.pop(key, None)
        for group in recorded:
            group.intent_recorded = True
        for group in pending:
            if not group.intent_recorded:
                self._hold(group)  # the whole intent again, later: same group, same metadata
        groups += [g for g in fresh if g.intent_recorded]
        return self._finish_groups(self._insert(groups, until))

    def _finish_groups(self, written: Sequence[Batch]) -> int:
        """Inserted groups: their dead letters to the DLQ topic, flushed, then "done" for the
        members this worker owns; the groups are forgotten."""
        for group in written:
            if group.dead_letters:
                self._dlq.send(group.dead_letters)
        if any(g.dead_letters for g in written) and not self._deliver_dead_letters(written):
            written = [g for g in written if not g.dead_letters]
        self._done([m for g in written for m in owned_members(g)])
        for group in written:
            if isinstance(group, GroupBatch):
                self._forget(group)
        return len(written)

    def _insert(self, batches: Sequence[Batch], until: float) -> list[Batch]:
        """Insert ``batches`` (intents committed): synchronously, returning the ones now in
        ClickHouse; or hand them to the insert thread and return none (:meth:`_collect`)."""
        if self.inserts is None:
            return [b for b in batches if self._write(b, until)]
        for batch in batches:  # a bisection on the thread stops at its own flush budget
            self.inserts.submit(batch, self._clock.monotonic() + self._settings.flush_budget_s)
        return []

    def _collect(self) -> int:
        """Finish the inserts the insert thread is done with (pipelined only): a success gets
        its dead letters delivered and "done" committed; a transient failure backs its batch off
        (same token later); a deferred bisection resumes in a later loop; anything else is
        raised here (fatal: the worker stops). A batch that is no longer the head of an owned
        partition's queue (revoked meanwhile) gets no commit at all. Returns how many finished."""
        if self.inserts is None:
            return 0
        singles: list[Batch] = []
        groups: list[Batch] = []
        for item in self.inserts.finished():
            if item.error is not None and not isinstance(item.error, MessageRejected):
                raise item.error
            if not self._owns(item.batch):
                logger.info("insert of {} ended after a revoke: not committed", item.batch.token())
            elif isinstance(item.error, MessageRejected):
                self._retry(item.batch, item.error)
            elif not item.done:
                self._metrics.flush_deferred()  # the bisection resumes in the next loop
            else:
                (groups if isinstance(item.batch, GroupBatch) else singles).append(item.batch)
        done = self._finish_singles(singles) if singles else 0
        return done + (self._finish_groups(groups) if groups else 0)

    def _owns(self, batch: Batch) -> bool:
        """Every partition ``batch`` commits for is still assigned with it at the head of its
        queue (a revoke, or a revoke and a new assignment, replaced the partition's state)."""
        for member in owned_members(batch):
            state = self.batcher.partitions.get((member.topic, member.partition))
            if state is None or not state.sealed or state.sealed[0] is not member:
                return False
        return True

    def _done(self, batches: Sequence[Batch]) -> None:
        """Commit "done" (``last + 1``) for ``batches`` and drop them; a partition whose commit
        failed joins no new group until the retry (in the next intent call) succeeds."""
        ok = {(b.topic, b.partition) for b in self._committer.record_done(batches)}
        for batch in batches:
            key = (batch.topic, batch.partition)
            if key in ok:
                self._unconfirmed.pop(key, None)
            elif self._table:  # per partition, the next batch's intent commit advances it
                self._unconfirmed[key] = batch.last_offset + 1
            self.batcher.done(batch)

    def _fresh_groups(self, ready: list[Batch]) -> list[GroupBatch]:
        """The formed groups whose members are all ready, and new groups of the ready free
        batches of partitions whose last "done" is confirmed: per topic and shard, by
        partition, cut so the intent metadata fits ``offset_metadata_max_bytes``."""
        ids = {id(b) for b in ready}
        groups: list[GroupBatch] = []
        free: dict[tuple[str, int], list[Batch]] = {}
        for batch in sorted(ready, key=lambda b: (b.topic, b.partition)):
            key = (batch.topic, batch.partition)
            group = self._fresh.get(key)
            if group is not None and any(m is batch for m in group.members):
                if group not in groups and all(id(m) in ids for m in group.members):
                    groups.append(group)
            elif key not in self._unconfirmed:
                free.setdefault((batch.topic, batch.partition % self._shards), []).append(batch)
        limit = self._settings.offset_metadata_max_bytes
        for members in free.values():
            for ranges in split_members(member_ranges(members), limit):
                parts = {r.partition for r in ranges}
                group = GroupBatch([b for b in members if b.partition in parts], ranges)
                self._fresh.update({(b.topic, b.partition): group for b in group.members})
                groups.append(group)
        return groups

    def _recovery_groups(self, ready: list[Batch], until: float) -> list[GroupBatch]:
        """Recorded groups whose owned members are all re-formed and ready: the other
        members read with the side consumer (once per group; a failed read is retried after
        the backoff delay)."""
        owned: dict[tuple[str, tuple[MemberRange, ...]], list[Batch]] = {}
        for batch in ready:
            assert batch.recorded is not None
            owned.setdefault((batch.topic, batch.recorded), []).append(batch)
        out = []
        for key, batches in owned.items():
            group = self._recovering.get(key)
            if group is None:
                if self._still_forming(*key, batches) or self._clock.monotonic() >= until:
                    continue
                try:
                    group = self._reform(key[0], key[1], batches, until)
                except MessageRejected as exc:
                    for batch in batches:
                        self.batcher.retry_later(batch, self._backoff, exc.retry_after)
                    logger.warning("{}; retrying the recorded group later", exc)
                    continue
                self._recovering[key] = group
            if all(any(m is b for b in batches) for m in group.owned):
                out.append(group)
        return out

    def _still_forming(
        self, topic: str, ranges: tuple[MemberRange, ...], ready: list[Batch]
    ) -> bool:
        """Another partition of ours re-forms a member of ``ranges`` and is not ready."""
        mine = {b.partition for b in ready}
        for (name, partition), state in self.batcher.partitions.items():
            if name != topic or partition in mine:
                continue
            if state.recovery_group == ranges:
                return True
            if any(b.recorded == ranges for b in state.sealed):
                return True
        return False

    def _reform(
        self, topic: str, ranges: tuple[MemberRange, ...], owned: list[Batch], until: float
    ) -> GroupBatch:
        """The recorded group ``ranges``: our re-formed members and the others' ranges read
        with the side consumer and decoded as their owners decode them."""
        mine = {b.partition for b in owned}
        members = list(owned)
        for member in ranges:
            if member.partition not in mine:
                members.append(self._side_batch(topic, member, until))
        group = GroupBatch(members, ranges)
        group.owned = list(owned)
        group.intent_recorded = True
        return group

    def _side_batch(self, topic: str, member: MemberRange, until: float) -> Batch:
        """A member's range read with the side consumer, within this loop's flush budget
        (at most ``kafka_timeout_s``); raises :class:`RangeUnavailable` when it did not fit."""
        if self._ranges is None:
            raise FatalError(
                f"a recorded group of {topic} names partition {member.partition}, which this "
                "worker does not own, and it has no range reader"
            )
        left = min(self._settings.kafka_timeout_s, until - self._clock.monotonic())
        if left <= 0:
            raise RangeUnavailable(
                f"{topic}[{member.partition}]: this loop's flush budget is spent"
            )
        messages = self._ranges.read(topic, member.partition, member.first, member.last, left)
        key = (topic, member.partition)
        scratch = Batcher(10**9, 600_000, self._clock)  # cut only at the recorded end
        scratch.assign(key, self._kinds[topic], member.last, member.first)
        self._decoder.add(messages, scratch, side=True)  # counted as side reads
        state = scratch.partitions[key]
        batch = state.sealed[0] if state.sealed else state.open
        if batch is None:  # the range is gone (retention): nothing left to insert
            batch = Batch(topic, member.partition, self._kinds[topic], member.first, 0.0)
        return batch

    def _forget(self, group: GroupBatch) -> None:
        for member in group.members:
            if self._fresh.get((member.topic, member.partition)) is group:
                del self._fresh[(member.topic, member.partition)]
        if group.members and self._recovering.get((group.topic, group.ranges)) is group:
            del self._recovering[(group.topic, group.ranges)]

    def _hold(self, batch: Batch, at_least: float = 0.0) -> float:
        """Back off ``batch`` (a group: every member this worker owns); return the delay."""
        members = batch.owned if isinstance(batch, GroupBatch) else [batch]
        delays = [self.batcher.retry_later(m, self._backoff, at_least) for m in members]
        return max(delays, default=0.0)

    def drain(self, timeout_s: float) -> None:
        """Graceful stop: stop fetching, seal, insert and commit what is batched, within
        ``timeout_s``. Batches left when the time is up are not committed (they are replayed)."""
        deadline = self._clock.monotonic() + timeout_s
        self._consumer.pause(self._consumer.assignment())
        self.batcher.seal_all()
        while self.batcher.has_sealed() and self._clock.monotonic() < deadline:
            if self.flush_ready():
                continue
            if self.inserts is not None and self.inserts.in_flight():
                left = deadline - self._clock.monotonic()
                self.inserts.wait_any(min(POLL_TIMEOUT_S, left))
                self._consumer.consume(1, 0)  # serve callbacks; nothing is fetched
            else:
                self._consumer.consume(1, POLL_TIMEOUT_S)  # serve callbacks; nothing is fetched
        logger.info("load worker drained; {} messages left uncommitted", self.batcher.pending())

    def _write(self, batch: Batch, until: float) -> bool:
        if self._clock.monotonic() >= until:  # this loop's budget is spent: no work, no span
            self._metrics.flush_deferred()
            return False
        try:
            if not traced_write(self._writer, batch, until):
                self._metrics.flush_deferred()
                return False  # the batch resumes in the next loop
        except MessageRejected as exc:
            self._retry(batch, exc)
            return False
        return True

    def _retry(self, batch: Batch, exc: MessageRejected) -> None:
        """The one place "slow down" is handled (synchronous or collected from the insert
        thread): the batch stays sealed and is retried after its backoff, same token."""
        delay = self._hold(batch, exc.retry_after)
        self._metrics.clickhouse_retry()
        logger.warning("{}; retrying in {:.1f} s", exc, delay)

    def _deliver_dead_letters(self, batches: Sequence[Batch]) -> bool:
        if self._dlq.flush(self._settings.kafka_timeout_s):
            return True
        logger.warning("dead-letter delivery failed; their batches will be retried")
        for batch in batches:
            if batch.dead_letters:
                self._hold(batch)
        return False

    def pending_rows(self) -> int:
        """The rows held for an insert: the batcher's, and what the groups in flight hold on
        top (side-read members, their index: :meth:`GroupBatch.held_rows`)."""
        groups = {id(g): g for g in [*self._fresh.values(), *self._recovering.values()]}
        return self.batcher.pending() + sum(g.held_rows() for g in groups.values())

    def _apply_backpressure(self) -> None:
        """Pause partitions whose insert is backing off, and all of them once the pending rows
        (:meth:`pending_rows`) reach the memory budget's share (:mod:`pipeline.load.memory`);
        resume below half.

        Reaching the budget also seals every open batch (recovery batches excepted, see
        :meth:`Batcher.seal_all`): the rows are held for an insert, and waiting for the batches'
        age limit with every partition paused would leave the worker idle — at full speed,
        with ``batch_backlog_max_ms``, for up to two seconds a loop. Any cut is safe for
        exactly-once (only a recorded batch must be re-formed, and recovery batches keep theirs).
        """
        pending, cap = self.pending_rows(), self.memory.pending_rows
        if pending >= cap:
            self._memory_full = True
            self.batcher.seal_all()
        elif pending <= cap // 2:
            self._memory_full = False
        want = self.batcher.backing_off()
        if self._memory_full:
            want |= {k for k, s in self.batcher.partitions.items() if s.recovery_end is None}
        if want != self._paused:
            self._consumer.pause([TopicPartition(t, p) for t, p in want - self._paused])
            self._consumer.resume([TopicPartition(t, p) for t, p in self._paused - want])
            self._paused = want
            self._metrics.paused_partitions(len(want))

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        scanned = self._scanned(partitions)
        records = self._committer.records(scanned)
        plans = self._recoveries(partitions, records, {(tp.topic, tp.partition) for tp in scanned})
        uncommitted: dict[str, list[int]] = {}
        ends = 0
        for tp in partitions:
            key = (tp.topic, tp.partition)
            record, plan = records.get(key), plans.get(key)
            end = plan.member.last if plan else parse_intent(record[1]) if record else None
            offset = record[0] if record else plan.member.first if plan else None
            self.batcher.assign(
                key, self._kinds[tp.topic], end, offset, plan.group if plan else None
            )
            ends += end is not None
            if record is None:
                uncommitted.setdefault(tp.topic, []).append(tp.partition)
        if plans:
            self._position(consumer, partitions, plans)
        for topic, numbers in uncommitted.items():  # one query per topic, none after a failure
            if not self._events.check_missing(topic, numbers, TABLES[self._kinds[topic]]):
                break
        logger.info("assigned {} partitions, {} with a batch to re-form", len(partitions), ends)

    @staticmethod
    def _position(
        consumer: Consumer,
        partitions: list[TopicPartition],
        plans: dict[TopicPartitionKey, Recovery],
    ) -> None:
        """Assign ``partitions`` (inside the assign callback, which then assigns nothing itself)
        with every member of a recorded group starting at the group's recorded ``first``.

        A member with nothing committed would otherwise start where ``auto.offset.reset`` says:
        under ``latest`` at the log's end, so the group could never be re-formed from this
        worker's own consumption (its recovery batch would wait for offsets it never reads).
        The others keep the committed offset (``OFFSET_INVALID``: the group's record)."""
        start = {k: plan.member.first for k, plan in plans.items()}
        consumer.assign(
            [
                TopicPartition(tp.topic, tp.partition, start[(tp.topic, tp.partition)])
                if (tp.topic, tp.partition) in start
                else TopicPartition(tp.topic, tp.partition)
                for tp in partitions
            ]
        )

    def _scanned(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """The partitions whose records are read at assignment: the assigned ones and, with
        groups, every partition of their topics (a group recorded on a partition another
        member owns may name one of ours, :mod:`pipeline.load.group` rule 2)."""
        if not self._table:
            return list(partitions)
        keys = {(tp.topic, tp.partition) for tp in partitions}
        try:  # one metadata request for every topic
            meta = self._consumer.list_topics(timeout=self._settings.kafka_timeout_s)
        except KafkaException as exc:
            raise FatalError(f"cannot list the partitions of the record topics: {exc}") from exc
        for topic in {tp.topic for tp in partitions}:
            found = meta.topics.get(topic)
            keys |= {(topic, p) for p in (found.partitions if found else {})}
        return [TopicPartition(t, p) for t, p in sorted(keys)]

    def _recoveries(
        self,
        partitions: list[TopicPartition],
        records: dict[TopicPartitionKey, Record],
        scanned: set[TopicPartitionKey],
    ) -> dict[TopicPartitionKey, Recovery]:
        """Per assigned partition, the recorded group it re-forms (reads the records of the
        groups' other members first, where not read yet)."""
        named = {
            (topic, m.partition)
            for topic in {tp.topic for tp in partitions}
            for group in recorded_groups({p: r for (t, p), r in records.items() if t == topic})
            for m in group
        }
        missing = [TopicPartition(t, p) for t, p in sorted(named - scanned)]
        if missing:
            records.update(self._committer.records(missing))
        plans = {}
        for topic in {tp.topic for tp in partitions}:
            mine = [tp.partition for tp in partitions if tp.topic == topic]
            of_topic = {p: r for (t, p), r in records.items() if t == topic}
            plans.update({(topic, p): plan for p, plan in recoveries(of_topic, mine).items()})
        return plans

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Wait for the partitions' inserts in flight (at most ``flush_budget_s``) and commit
        "done" for those that finished — the partitions are still ours inside this callback —
        then :meth:`_release` them. An insert still running is left to finish; its result is
        dropped uncommitted when collected (:meth:`_collect`)."""
        if self.inserts is not None:
            keys = [(tp.topic, tp.partition) for tp in partitions]
            if not self.inserts.wait(self._settings.flush_budget_s, keys):
                logger.warning("revoke: an insert still in flight is left uncommitted")
            self._collect()
        self._release(consumer, partitions)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The partitions are gone already (session timeout, fenced): nothing may be committed
        for them, so nothing is waited for; inserts in flight are dropped when collected."""
        self._release(consumer, partitions)

    def _release(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Drop the partitions' batches (uncommitted) and resume them before they go.

        librdkafka keeps an application's pause on a partition across unassign and assign
        (the Java client clears it): a partition revoked while paused — backing off after a
        failed insert or intent commit, or over the memory budget — would come back paused
        while :attr:`_paused` no longer names it, and never be fetched again (issue 12,
        ``kafka-kill9``). So every partition leaves resumed, and a new assignment starts
        unpaused, as :meth:`_apply_backpressure` assumes; it pauses again what it must.
        """
        consumer.resume(partitions)
        dropped = 0
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        still_owned = self._drop_groups(revoked)
        for key in revoked:  # another owner may write its record from now on
            self._unconfirmed.pop(key, None)
        for tp in partitions:
            key = (tp.topic, tp.partition)
            dropped += self.batcher.revoke(key)
            self._paused.discard(key)
        self._metrics.paused_partitions(len(self._paused))
        logger.info(
            "revoked {} partitions; {} uncommitted messages dropped", len(partitions), dropped
        )
        if still_owned:  # only a cooperative (incremental) revoke leaves members owned
            raise FatalError(
                f"partitions {sorted(revoked)} were revoked while {sorted(still_owned)} stay "
                "assigned: the load worker needs the eager rebalance protocol (see "
                "check_eager_rebalance)"
            )

    def _drop_groups(self, revoked: set[TopicPartitionKey]) -> set[TopicPartitionKey]:
        """Forget every group not yet done with a revoked member; return its members this
        worker still owns (none under the eager protocol, the module docstring)."""
        groups = {id(g): g for g in [*self._fresh.values(), *self._recovering.values()]}
        keep: set[TopicPartitionKey] = set()
        for group in groups.values():
            keys = {(m.topic, m.partition) for m in group.owned}
            if keys & revoked:
                self._forget(group)
                keep |= keys - revoked
        return keep


COOPERATIVE = "cooperative"


def check_eager_rebalance(config: Mapping[str, object]) -> None:
    """Refuse a consumer configuration whose rebalances are incremental.

    The groups' exactly-once argument drops a group whole when one member is revoked, which is
    right only when a revoke takes every partition at once: the eager protocol of the classic
    consumer group with librdkafka's default assignors. ``cooperative-sticky`` and the new
    consumer group protocol (KIP-848, ``group.protocol=consumer``) revoke incrementally.
    Raises :class:`FatalError` naming the key."""
    strategy = str(config.get("partition.assignment.strategy", ""))
    if COOPERATIVE in strategy:
        raise FatalError(
            f"partition.assignment.strategy = {strategy!r}: the load worker needs an eager "
            "assignor (range, roundrobin); a cooperative one revokes partitions incrementally"
        )
    protocol = str(config.get("group.protocol", "classic"))
    if protocol != "classic":
        raise FatalError(
            f"group.protocol = {protocol!r}: the load worker needs the classic (eager) "
            "consumer group protocol"
        )
