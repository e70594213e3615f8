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

Limits: the Kafka DLQ copy is at least once (a replayed batch produces its dead letters again);
a replay must come within the table's last ``non_replicated_deduplication_window`` inserts —
sized from the partitions and batch rate and checked at start-up (:mod:`tickwatch.dedup_window`;
on a cluster, per shard: :mod:`pipeline.load.shards`); if retention deleted part of a recorded
batch before it was replayed, the remainder is inserted under a different token.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from confluent_kafka import Consumer, TopicPartition
from loguru import logger
from opentelemetry import trace

from pipeline.codec import RecordType
from pipeline.dlq import DeadLetterQueue
from pipeline.errors import MessageRejected
from pipeline.load.batch import Batch, Batcher
from pipeline.load.commit import OffsetCommitter
from pipeline.load.decode import MessageDecoder
from pipeline.load.events import PipelineEvents
from pipeline.load.gaps import GapClassifier
from pipeline.load.lag import report_lag
from pipeline.load.memory import budget
from pipeline.load.shards import BatchWriter
from pipeline.load.tables import TABLES
from tickwatch.backoff import Backoff
from tickwatch.clock import Clock
from tickwatch.settings import ClickHouseSettings, LoadSettings
from tickwatch.telemetry.catalog import LoadMetrics
from tickwatch.types import TopicPartitionKey

POLL_TIMEOUT_S = 0.1
_tracer = trace.get_tracer("tickwatch.load")


def poll_loop_bound_s(load: LoadSettings, connect_timeout_s: float) -> float:
    """The longest one :meth:`LoadWorker.step` can block, in seconds.

    A loop inserts until ``flush_budget_s`` is spent; the last insert it starts may take its
    whole timeout (a connect, retried once by urllib3, then ``insert_timeout_s`` to send and
    receive), followed by the batch's dead-letter insert, the two offset commits and the DLQ
    flush and one watermark lookup for an offset gap (``kafka_timeout_s`` each, see
    :mod:`pipeline.load.gaps`); an assignment in that poll adds one ClickHouse query per
    record topic (``offset_missing``, :mod:`pipeline.load.events`). It must stay below
    ``max_poll_interval_ms``.
    """
    insert_s = 2 * min(connect_timeout_s, load.insert_timeout_s) + load.insert_timeout_s
    kafka_s = 4 * load.kafka_timeout_s  # two commits, the DLQ flush, a failed watermark lookup
    assign_s = len(RecordType) * insert_s
    return load.flush_budget_s + 2 * insert_s + kafka_s + assign_s + POLL_TIMEOUT_S


class LoadWorker:
    """One consumer-group member. Single-threaded: callbacks run inside :meth:`step`."""

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
        )
        self._behind = False  # lag of the last poll >= backlog_lag_messages
        self._paused: set[TopicPartitionKey] = set()
        self._memory_full = False
        self.memory = budget(settings)  # raises at start-up when too small for one batch

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
            self._dlq.close(self._settings.kafka_timeout_s)

    def subscribe(self) -> None:
        """Join the group; partitions arrive (and leave) through the rebalance callbacks."""
        self._consumer.subscribe(
            list(self._kinds),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
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
        return POLL_TIMEOUT_S if due is None else min(POLL_TIMEOUT_S, due)

    def flush_ready(self) -> int:
        """Insert and commit the ready batches (order in the module docstring); return how many.

        Blocks for the commits, the inserts and the DLQ flush. Failures are not raised: a
        batch that failed stays sealed and is retried after its partition's backoff delay.
        """
        ready = self.batcher.ready()
        if not ready:
            return 0
        recorded = self._committer.record_intents(ready)
        for batch in ready:
            if batch not in recorded:
                self.batcher.retry_later(batch, self._backoff)
        until = self._clock.monotonic() + self._settings.flush_budget_s
        written = [b for b in recorded if self._write(b, until)]
        if any(b.dead_letters for b in written) and not self._deliver_dead_letters(written):
            written = [b for b in written if not b.dead_letters]
        self._committer.record_done(written)
        for batch in written:
            self.batcher.done(batch)
        return len(written)

    def drain(self, timeout_s: float) -> None:
        """Graceful stop: stop fetching, seal, insert and commit what is batched, within
        ``timeout_s``. Batches left when the time is up are not committed (they are replayed)."""
        deadline = self._clock.monotonic() + timeout_s
        self._consumer.pause(self._consumer.assignment())
        self.batcher.seal_all()
        while self.batcher.has_sealed() and self._clock.monotonic() < deadline:
            if not self.flush_ready():
                self._consumer.consume(1, POLL_TIMEOUT_S)  # serve callbacks; nothing is fetched
        logger.info("load worker drained; {} messages left uncommitted", self.batcher.pending())

    def _write(self, batch: Batch, until: float) -> bool:
        if self._clock.monotonic() >= until:  # this loop's budget is spent: no work, no span
            self._metrics.flush_deferred()
            return False
        with _tracer.start_as_current_span("load.insert") as span:
            span.set_attributes(
                {
                    "rows": batch.size,
                    "partition": batch.partition,
                    "first_offset": batch.first_offset,
                    "last_offset": batch.last_offset,
                    "topic": batch.topic,
                }
            )
            try:
                if not self._writer.write(batch, until):
                    span.set_attribute("deferred", True)  # a bisection ran out of the budget
                    self._metrics.flush_deferred()
                    return False  # the batch resumes in the next loop
            except MessageRejected as exc:  # the one place "slow down" is handled
                delay = self.batcher.retry_later(batch, self._backoff, exc.retry_after)
                self._metrics.clickhouse_retry()
                logger.warning("{}; retrying in {:.1f} s", exc, delay)
                span.record_exception(exc)
                return False
        if batch.dead_letters:
            self._dlq.send(batch.dead_letters)
        return True

    def _deliver_dead_letters(self, batches: Sequence[Batch]) -> bool:
        if self._dlq.flush(self._settings.kafka_timeout_s):
            return True
        logger.warning("dead-letter delivery failed; their batches will be retried")
        for batch in batches:
            if batch.dead_letters:
                self.batcher.retry_later(batch, self._backoff)
        return False

    def _apply_backpressure(self) -> None:
        """Pause partitions whose insert is backing off, and all of them once the pending rows
        reach the memory budget's share (:mod:`pipeline.load.memory`); resume below half.

        Reaching the budget also seals every open batch (recovery batches excepted, see
        :meth:`Batcher.seal_all`): the rows are held for an insert, and waiting for the batches'
        age limit with every partition paused would leave the worker idle — at full speed,
        with ``batch_backlog_max_ms``, for up to two seconds a loop. Any cut is safe for
        exactly-once (only a recorded batch must be re-formed, and recovery batches keep theirs).
        """
        pending, cap = self.batcher.pending(), self.memory.pending_rows
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

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        offsets, ends = self._committer.positions(partitions)
        uncommitted: dict[str, list[int]] = {}
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self.batcher.assign(key, self._kinds[tp.topic], ends.get(key), offsets.get(key))
            if key not in offsets:
                uncommitted.setdefault(tp.topic, []).append(tp.partition)
        for topic, numbers in uncommitted.items():  # one query per topic, none after a failure
            if not self._events.check_missing(topic, numbers, TABLES[self._kinds[topic]]):
                break
        logger.info(
            "assigned {} partitions, {} with a batch to re-form", len(partitions), len(ends)
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
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
        for tp in partitions:
            key = (tp.topic, tp.partition)
            dropped += self.batcher.revoke(key)
            self._paused.discard(key)
        self._metrics.paused_partitions(len(self._paused))
        logger.info(
            "revoked {} partitions; {} uncommitted messages dropped", len(partitions), dropped
        )
