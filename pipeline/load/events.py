"""Offset resets are events: logged, counted and written to ``{ops}.pipeline_events``.

The consumer's position in a partition is *reset* when Kafka cannot serve the committed offset —
retention deleted it, the topic was recreated, a broker lost its tail — and librdkafka moves to
``load.auto_offset_reset`` (``earliest``: re-read what is left; ``latest``: skip to the end). It
does so silently (a log line of its own), so the worker notices by itself:

* ``offset_reset`` — the first message after an assignment is not at the committed offset, or a
  later one is not right after its predecessor (:class:`pipeline.load.batch.OffsetJump`), and
  the expected offset is no longer in the log (:mod:`pipeline.load.gaps`). A gap whose offsets
  are still in the log is transaction markers and aborted records: no event, only a debug line
  and ``tickwatch_load_offset_gaps_total{topic, reason="transaction"}`` (:meth:`gap`);
* ``offset_missing`` — a partition has no committed offset, yet its table holds rows loaded from
  it (the group's offsets expired or were deleted): it is read again from the reset policy.

Each event is logged (warning), counted (``tickwatch_load_offset_resets_total{topic}``) and
inserted into ``{ops}.pipeline_events``; the detector's ``offset_resets`` check alerts on them.
An insert that fails is kept (at most :data:`MAX_PENDING` events) and tried again next loop.

Why it matters for exactly once: after a reset the batches are cut afresh. A recreated topic
starts again at offset 0, so its tokens repeat earlier ones: ClickHouse would drop those blocks
as duplicates while they are within ``non_replicated_deduplication_window`` — the event says so.
"""

from __future__ import annotations

from typing import Any

from clickhouse_connect.driver.client import Client
from loguru import logger

from pipeline.load.batch import OffsetJump
from tickwatch.clickhouse_errors import DRIVER_ERRORS
from tickwatch.clock import Clock
from tickwatch.settings import ClickHouseSettings
from tickwatch.telemetry.catalog import LoadMetrics

EVENT_COLUMNS = (
    "time",
    "service",
    "kind",
    "topic",
    "kafka_partition",
    "expected_offset",
    "actual_offset",
    "policy",
    "detail",
)
MAX_PENDING = 1000
_REPLAY_NOTE = (
    "batches are cut afresh; if the topic was recreated, its offsets repeat earlier "
    "deduplication tokens"
)


class PipelineEvents:
    """Records offset resets; :meth:`flush` writes them to ClickHouse (with ``client`` None they
    are only logged and counted)."""

    def __init__(
        self,
        client: Client | None,
        settings: ClickHouseSettings,
        *,
        metrics: LoadMetrics,
        clock: Clock,
        policy: str,
        service: str = "load",
    ) -> None:
        self._client = client
        self._table = f"{settings.ops_database}.pipeline_events"
        self._market = settings.market_database
        self._metrics = metrics
        self._clock = clock
        self._policy = policy
        self._service = service
        self._pending: list[list[Any]] = []

    def jumped(self, jump: OffsetJump) -> None:
        """The position of ``jump``'s partition moved from ``expected`` to ``actual``."""
        skipped = jump.actual - jump.expected
        what = f"skipped {skipped} offsets" if skipped > 0 else f"went back {-skipped} offsets"
        detail = (
            f"{jump.topic}[{jump.partition}]: expected offset {jump.expected}, got "
            f"{jump.actual} ({what}; auto.offset.reset={self._policy}); {_REPLAY_NOTE}"
        )
        self._record(
            "offset_reset", jump.topic, jump.partition,
            expected=jump.expected, actual=jump.actual, detail=detail,
        )  # fmt: skip

    def gap(self, jump: OffsetJump) -> None:
        """``jump`` skipped transaction markers or aborted records: counted, no event."""
        self._metrics.offset_gap(jump.topic, "transaction")
        logger.debug(
            "{}[{}]: offsets {}-{} skipped (transaction markers or aborted records)",
            jump.topic, jump.partition, jump.expected, jump.actual - 1,
        )  # fmt: skip

    def check_missing(self, topic: str, partitions: list[int], table: str) -> bool:
        """Record ``offset_missing`` for each of ``partitions`` (none has a committed offset)
        whose rows ``{market}.<table>`` already holds. One query (the client's timeouts);
        returns False when it failed, so the caller can skip the other topics this time."""
        if self._client is None or not partitions:
            return True
        sql = (
            f"SELECT kafka_partition, count(), max(kafka_offset) FROM {self._market}.{table} "
            "WHERE kafka_partition IN {ps:Array(UInt16)} GROUP BY kafka_partition "
            "ORDER BY kafka_partition"
        )
        try:
            rows = self._client.query(sql, parameters={"ps": partitions}).result_rows
        except DRIVER_ERRORS as exc:
            logger.warning("cannot tell whether {} {} had offsets: {}", topic, partitions, exc)
            return False
        for partition, n, last in rows:
            detail = (
                f"{topic}[{partition}]: no committed offset, but {table} holds {n} rows up to "
                f"offset {last}; read again from auto.offset.reset={self._policy}; {_REPLAY_NOTE}"
            )
            self._record(
                "offset_missing", topic, int(partition), expected=int(last) + 1, actual=-1,
                detail=detail,
            )  # fmt: skip
        return True

    def flush(self) -> None:
        """Insert the recorded events; on failure keep them for the next call. Never raises."""
        if not self._pending or self._client is None:
            self._pending.clear()
            return
        columns = [list(c) for c in zip(*self._pending, strict=True)]
        try:
            self._client.insert(self._table, columns, column_names=list(EVENT_COLUMNS),
                                column_oriented=True)  # fmt: skip
        except DRIVER_ERRORS as exc:
            logger.warning("{} pipeline events not written yet: {}", len(self._pending), exc)
            del self._pending[:-MAX_PENDING]
            return
        self._pending.clear()

    def _record(
        self, kind: str, topic: str, partition: int, *, expected: int, actual: int, detail: str
    ) -> None:
        logger.warning("offset reset: {}", detail)
        self._metrics.offset_reset(topic)
        now_us = int(self._clock.time() * 1e6)
        self._pending.append(
            [now_us, self._service, kind, topic, partition, expected, actual, self._policy, detail]
        )
