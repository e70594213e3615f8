"""Is a gap in a partition's offsets a reset, or only transaction markers and aborted records?

A ``read_committed`` consumer skips offsets legitimately: every transaction's commit or abort
marker takes an offset, and the records of an aborted transaction (a producer killed with -9
and fenced by its successor) are never delivered. The replay source and the backfill produce
with transactions, so the load worker sees such gaps all the time. A *reset* is different: Kafka
could not serve the expected offset (retention or ``DeleteRecords`` removed it, the topic was
recreated) and librdkafka moved to ``auto.offset.reset`` without telling the application (with
``earliest``/``latest`` it only logs; ``_AUTO_OFFSET_RESET`` reaches the application only with
``auto.offset.reset=error``).

Rule (:meth:`GapClassifier.is_reset`): a jump from ``expected`` to ``actual`` is a reset when it
goes backwards, or when ``expected`` is outside the partition's log — below its low watermark
(deleted) or beyond its high watermark (a log shorter than the committed offset). Otherwise the
offsets in between are still in the log, hence control or aborted records. The watermarks are
asked of the leader (``cached=False``) only when a gap is seen, at most once per partition per
poll; if the query fails, the gap counts as a reset (what the worker did before the rule), with
a warning, and no more queries are sent in that poll.
"""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import KafkaException, TopicPartition
from loguru import logger

from tickwatch.types import TopicPartitionKey

Watermarks = Callable[[TopicPartition, float], tuple[int, int]]


class GapClassifier:
    """Tells resets from transaction gaps with the partition's watermarks.

    ``watermarks(tp, timeout_s)`` returns ``(low, high)`` or raises :class:`KafkaException`
    (the consumer's ``get_watermark_offsets(tp, timeout=..., cached=False)``)."""

    def __init__(self, watermarks: Watermarks, timeout_s: float) -> None:
        self._watermarks = watermarks
        self._timeout_s = timeout_s
        self._cache: dict[TopicPartitionKey, tuple[int, int]] = {}
        self._failed = False

    def new_poll(self) -> None:
        """Forget this poll's watermarks (they move) and any failure."""
        self._cache.clear()
        self._failed = False

    def is_reset(self, key: TopicPartitionKey, expected: int, actual: int) -> bool:
        """Whether the jump ``expected`` -> ``actual`` in ``key`` is a position reset."""
        if actual < expected:
            return True
        marks = self._lookup(key)
        if marks is None:
            return True
        low, high = marks
        return expected < low or expected > high

    def _lookup(self, key: TopicPartitionKey) -> tuple[int, int] | None:
        if key in self._cache:
            return self._cache[key]
        if self._failed:
            return None
        try:
            low, high = self._watermarks(TopicPartition(*key), self._timeout_s)
        except KafkaException as exc:
            self._failed = True
            logger.warning(
                "cannot read the watermarks of {}[{}] ({}): an offset gap counts as a reset",
                key[0], key[1], exc,
            )  # fmt: skip
            return None
        self._cache[key] = (low, high)
        return low, high
