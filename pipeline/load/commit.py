"""The commit step: offsets with *intent* metadata, the record that makes replays exact.

For a batch ``[first, last]`` of a partition the worker commits twice, synchronously:

1. before inserting: offset ``first`` with metadata ``tickwatch:v1:end=<last>`` — "the batch
   starting at the committed offset ends at ``last`` and may already be in ClickHouse";
2. after inserting (and flushing its dead letters): offset ``last + 1``, no metadata.

Offset and metadata are one record in the group coordinator, written atomically, so whoever
resumes the partition reads both with :meth:`OffsetCommitter.recovery_ends`. A commit from a
consumer that lost the partition in a rebalance is refused by the coordinator (stale generation),
which keeps a zombie from recording a different boundary.

A *group* (``load.batch_scope = "table"``, :mod:`pipeline.load.group`) records its intent on every
member in one call (:meth:`OffsetCommitter.record_group_intents`), metadata
``tickwatch:v2:g=<p>:<first>-<last>,...``; its "done" commits are per member, as above.
"""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaException, TopicPartition
from loguru import logger
from opentelemetry import trace

from pipeline.errors import FatalError
from pipeline.load.batch import Batch
from pipeline.load.group import Record, group_metadata
from pipeline.load.group_batch import GroupBatch
from tickwatch.telemetry.catalog import LoadMetrics
from tickwatch.types import TopicPartitionKey

INTENT_PREFIX = "tickwatch:v1:end="
_tracer = trace.get_tracer("tickwatch.load")


def intent_metadata(last_offset: int) -> str:
    return f"{INTENT_PREFIX}{last_offset}"


def parse_intent(metadata: str | None) -> int | None:
    """The recorded batch end in commit ``metadata``, or None if there is none."""
    if not metadata or not metadata.startswith(INTENT_PREFIX):
        return None
    value = metadata.removeprefix(INTENT_PREFIX)
    return int(value) if value.isdigit() else None


class OffsetCommitter:
    """Synchronous offset commits for batches; failures are counted, logged and reported."""

    def __init__(self, consumer: Consumer, metrics: LoadMetrics, timeout_s: float) -> None:
        self._consumer = consumer
        self._metrics = metrics
        self._timeout_s = timeout_s

    def record_intents(self, batches: Sequence[Batch]) -> list[Batch]:
        """Commit each batch's first offset with its end; return the batches that succeeded."""
        offsets = [
            TopicPartition(b.topic, b.partition, b.first_offset, intent_metadata(b.last_offset))
            for b in batches
        ]
        ok = self._commit(offsets, "intent")
        return [b for b in batches if (b.topic, b.partition) in ok]

    def record_group_intents(
        self, groups: Sequence[GroupBatch], done: Sequence[TopicPartition] = ()
    ) -> tuple[list[GroupBatch], set[TopicPartitionKey]]:
        """Commit, in ONE call, every member's first offset with its group's metadata, and the
        retried "done" offsets ``done`` of other partitions; return the groups whose every
        member's commit succeeded (only those may be inserted) and the ``done`` partitions
        that succeeded."""
        offsets = [
            TopicPartition(g.topic, m.partition, m.first, group_metadata(g.ranges))
            for g in groups
            for m in g.ranges
        ]
        ok = self._commit([*offsets, *done], "intent")
        recorded = [g for g in groups if all((g.topic, m.partition) in ok for m in g.ranges)]
        return recorded, ok & {(tp.topic, tp.partition) for tp in done}

    def records(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartitionKey, Record]:
        """The committed (offset, metadata) of ``partitions`` that have one — also of
        partitions this member is not assigned. Blocks and raises like :meth:`recovery_ends`."""
        try:
            committed = self._consumer.committed(list(partitions), timeout=self._timeout_s)
        except KafkaException as exc:
            raise FatalError(f"cannot read committed offsets: {exc}") from exc
        return {
            (tp.topic, tp.partition): (tp.offset, tp.metadata) for tp in committed if tp.offset >= 0
        }

    def record_done(self, batches: Sequence[Batch]) -> list[Batch]:
        """Commit the offset after each batch; return the batches whose commit succeeded."""
        offsets = [TopicPartition(b.topic, b.partition, b.last_offset + 1) for b in batches]
        ok = self._commit(offsets, "done")
        return [b for b in batches if (b.topic, b.partition) in ok]

    def recovery_ends(self, partitions: Sequence[TopicPartition]) -> dict[TopicPartitionKey, int]:
        """Recorded batch ends of ``partitions``. Blocks up to the timeout.

        Raises :class:`FatalError` if the committed offsets cannot be read: starting without them
        could re-form a batch with different boundaries and insert it twice.
        """
        return self.positions(partitions)[1]

    def positions(
        self, partitions: Sequence[TopicPartition]
    ) -> tuple[dict[TopicPartitionKey, int], dict[TopicPartitionKey, int]]:
        """The committed offsets (where one is) and the recorded batch ends of ``partitions``;
        blocks and raises like :meth:`recovery_ends`."""
        try:
            committed = self._consumer.committed(list(partitions), timeout=self._timeout_s)
        except KafkaException as exc:
            raise FatalError(f"cannot read committed offsets: {exc}") from exc
        offsets, ends = {}, {}
        for tp in committed:
            if tp.offset < 0:
                continue
            offsets[(tp.topic, tp.partition)] = tp.offset
            end = parse_intent(tp.metadata)
            if end is not None:
                ends[(tp.topic, tp.partition)] = end
        return offsets, ends

    def _commit(self, offsets: list[TopicPartition], kind: str) -> set[TopicPartitionKey]:
        if not offsets:
            return set()
        with _tracer.start_as_current_span("load.commit") as span:
            span.set_attribute("kind", kind)
            span.set_attribute("partitions", len(offsets))
            try:
                result = self._consumer.commit(offsets=offsets, asynchronous=False)
            except KafkaException as exc:
                self._metrics.commit_failure()
                named = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in offsets)
                logger.warning("{} commit of {} failed: {}", kind, named, exc)
                return set()
        failed = [tp for tp in result or [] if tp.error is not None]
        for tp in failed:
            self._metrics.commit_failure()
            logger.warning("{} commit {}[{}] failed: {}", kind, tp.topic, tp.partition, tp.error)
        bad = {(tp.topic, tp.partition) for tp in failed}
        return {(tp.topic, tp.partition) for tp in offsets} - bad
