"""The pipelined insert: ClickHouse INSERTs on insert threads while the consumer polls and decodes.

``load.inserts_in_flight = N`` (default 4; 0 = insert synchronously in the poll loop, as before)
lets the load worker hand up to ``N`` batches or groups whose intent is committed to an
:class:`InsertLane` and go on polling and decoding while ClickHouse takes them. Each record topic
(table) has its own insert thread (``load.insert_thread_per_table``, default; else one thread for
all): one topic's inserts run one after the other, two tables' side by side, so a table's group
does not wait behind another table's INSERT. ``N`` bounds how many are in flight in all; the
default lets each record topic's group wait its turn: with ``N = 1`` a table's next group
waited, besides the other tables' inserts, a poll loop for each of them to be collected
(measured at 10k ticks/s: event -> row p99 about twice the synchronous worker's). Only the
INSERT runs on the lane's threads: the rows, a bisection of rejected rows, and the dead letters'
rows into ``{ops}.dead_letters`` (all of :meth:`pipeline.load.insert.ClickHouseWriter.write`,
one unit that resumes where it stopped). Everything that talks to Kafka — poll, the intent and
"done" commits, pause/resume, the rebalance callbacks and the DLQ topic produce and flush —
stays on the consumer's thread, which collects a finished insert with
:meth:`InsertLane.finished`.

Why exactly once still holds (the single-threaded argument is in :mod:`pipeline.load.worker`
and :mod:`pipeline.load.group`; this only re-argues the order of operations):

* Per partition the order is unchanged: intent commit -> insert -> "done" commit. A batch is
  handed to the lane only after its intent commit succeeded, and "done" is committed by the
  consumer's thread only after it collected that insert's success.
* A partition with an insert in flight joins no new intent (:meth:`InsertLane.busy_keys`; the
  in-flight batch also stays the head of its partition's sealed queue until it is done, so the
  batcher offers no later batch of it). Otherwise the later intent would overwrite the
  committed record of the earlier batch: a kill -9 then leaves a recovery that knows only the
  later batch while the earlier one may not be in ClickHouse — lost rows. With the rule, the
  committed record still always describes the one batch that may be in ClickHouse beyond the
  committed offset. Other partitions (another table's group) may record and queue meanwhile.
* One thread per topic: a topic's inserts run one after the other in submission order, never
  two at once, so a batch revoked while in flight and re-formed here after a reassignment (same
  token: a token names its topic, so it always goes to the same thread) is inserted after the
  first attempt finished, never concurrently with it. Two topics' inserts may overlap: they
  carry different tokens into different tables (their dead letters share ``{ops}.dead_letters``
  under different ``dlq:`` tokens).
* Revoke: the worker waits for the revoked partitions' inserts (at most ``flush_budget_s``),
  commits "done" for those that finished while it still owns them, and drops the rest: a result
  collected later for a batch that is no longer the head of an owned partition's queue is
  discarded without any commit. Lost partitions (``on_lost``): nothing is committed, nothing
  waited for. Either way the new owner replays from the committed record with the same token.
* Kill -9 with an insert in flight or finished but not collected: intent recorded, no "done"
  — exactly the state a kill between insert and "done" left before; the replay deduplicates.
* A transient failure (:class:`~pipeline.errors.MessageRejected`) comes back as the insert's
  outcome: the batch stays sealed, unchanged, and is retried after its backoff with the same
  token. Any other exception (a fatal refusal) is raised on the consumer's thread when
  collected and stops the worker, as before.

Memory: a batch in flight stays in the batcher (and a group in the worker's groups) until it is
done, so ``LoadWorker.pending_rows`` counts in-flight rows against the budget
(:mod:`pipeline.load.memory`); each topic's thread serialises one insert's copy of a batch at a
time, so with a thread per table up to one copy per table exists at once: the budget reserves
one per record type, up to ``N`` (:func:`pipeline.load.memory.insert_copy_bytes`). The lane's
threads share their own ClickHouse client (:func:`pipeline.load_cli.run_load`):
clickhouse-connect's client keeps per-call contexts and an HTTP pool and is documented as usable
from several threads without sessions, which tickwatch never opens; its own client keeps the
insert's connections apart from the worker's queries.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Iterable
from dataclasses import dataclass

from opentelemetry import trace

from pipeline.errors import MessageRejected
from pipeline.load.batch import Batch
from pipeline.load.group_batch import GroupBatch
from pipeline.load.shards import BatchWriter
from tickwatch.types import TopicPartitionKey

_tracer = trace.get_tracer("tickwatch.load")


def owned_members(batch: Batch) -> list[Batch]:
    """The batches ``batch`` commits "done" for: a group's owned members, or itself."""
    return batch.owned if isinstance(batch, GroupBatch) else [batch]


def owned_keys(batch: Batch) -> list[TopicPartitionKey]:
    """The partitions ``batch`` commits for (:func:`owned_members`)."""
    return [(m.topic, m.partition) for m in owned_members(batch)]


def traced_write(writer: BatchWriter, batch: Batch, until: float) -> bool:
    """``writer.write(batch, until)`` in a ``load.insert`` span with the batch's coordinates;
    returns and raises as the writer (a deferred bisection is marked on the span)."""
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
            done = writer.write(batch, until)
        except MessageRejected as exc:
            span.record_exception(exc)
            raise
        if not done:
            span.set_attribute("deferred", True)  # a bisection ran out of the budget
        return done


@dataclass(frozen=True, slots=True)
class Finished:
    """A collected insert: the batch (or group) and what the write returned or raised."""

    batch: Batch
    done: bool
    error: BaseException | None


class InsertLane:
    """Up to ``limit`` inserts handed to one thread; collected, in order, by the caller.

    Not thread-safe itself: only the consumer's thread calls it (the executor's thread runs
    nothing but :func:`traced_write`)."""

    def __init__(
        self,
        writer: BatchWriter,
        limit: int,
        executor: cf.Executor | None = None,
        *,
        per_topic: bool = False,
    ) -> None:
        if limit < 1:
            raise ValueError(f"an insert lane needs room for at least one insert, not {limit}")
        self._writer = writer
        self.limit = limit
        self._shared = executor
        self._per_topic = per_topic
        self._executors: dict[str, cf.Executor] = {}
        self._flight: list[tuple[Batch, cf.Future[bool]]] = []

    def _executor(self, topic: str) -> cf.Executor:
        """The thread ``topic``'s inserts run on: its own with ``per_topic``, else the one
        shared thread (or the injected executor). One topic's inserts, and so every insert of
        one token, always run on one thread, one after the other."""
        if self._shared is not None:
            return self._shared
        key = topic if self._per_topic else ""
        found = self._executors.get(key)
        if found is None:
            name = f"tickwatch-insert-{topic}" if self._per_topic else "tickwatch-insert"
            found = self._executors[key] = cf.ThreadPoolExecutor(1, name)
        return found

    @property
    def free(self) -> int:
        """How many more inserts may be handed over now."""
        return self.limit - len(self._flight)

    def in_flight(self) -> int:
        return len(self._flight)

    def busy_keys(self) -> set[TopicPartitionKey]:
        """The partitions with an insert handed over and not yet collected."""
        return {k for b, _ in self._flight for k in owned_keys(b)}

    def submit(self, batch: Batch, until: float) -> None:
        """Hand ``batch`` (its intent committed) over; it is inserted after the ones before it.
        The caller keeps it untouched until it is collected. Raises ``RuntimeError`` when the
        lane is full (the caller checks :attr:`free`)."""
        if self.free <= 0:
            raise RuntimeError(f"{self.limit} inserts are in flight already")
        future = self._executor(batch.topic).submit(traced_write, self._writer, batch, until)
        self._flight.append((batch, future))

    def finished(self) -> list[Finished]:
        """The inserts that have finished, in submission order; forgets them. Never blocks."""
        out, left = [], []
        for batch, future in self._flight:
            if not future.done():
                left.append((batch, future))
                continue
            error = future.exception()
            out.append(Finished(batch, error is None and future.result(), error))
        self._flight = left
        return out

    def wait(self, timeout_s: float, keys: Iterable[TopicPartitionKey] | None = None) -> bool:
        """Block until every insert in flight (of ``keys``' partitions, when given) finished,
        at most ``timeout_s``; return whether they did."""
        wanted = None if keys is None else set(keys)
        futures = [f for b, f in self._flight if wanted is None or wanted & set(owned_keys(b))]
        if not futures:
            return True
        _, pending = cf.wait(futures, timeout=max(0.0, timeout_s))
        return not pending

    def wait_any(self, timeout_s: float) -> None:
        """Block until one insert in flight finished, at most ``timeout_s``."""
        if self._flight:
            cf.wait([f for _, f in self._flight], max(0.0, timeout_s), cf.FIRST_COMPLETED)

    def close(self) -> None:
        """Stop taking inserts; one under way finishes on its thread (its result is dropped)."""
        for executor in [*self._executors.values(), *([self._shared] if self._shared else [])]:
            executor.shutdown(wait=False, cancel_futures=True)
