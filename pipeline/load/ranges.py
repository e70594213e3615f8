"""Reading a recorded group's members that this worker does not own: one offset range at a time.

When a group recorded by another member must be re-formed (:mod:`pipeline.load.group`), the
ranges of the partitions another consumer owns are read with a *side* consumer: ``assign()``
only — never ``subscribe()`` (it would join the load group and trigger a rebalance) and never a
commit (the offsets belong to their owners) — configured like the load consumer (security,
``read_committed``), so it sees the same records. Its messages go through the same decoder, so
the member's rows and dead letters are the ones its owner forms.
"""

from __future__ import annotations

from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from pipeline.errors import MessageRejected
from tickwatch.clock import Clock


class RangeUnavailable(MessageRejected):
    """A member's range could not be read within the timeout: retry later (recoverable), the
    worker's one "slow down" error, handled where the inserts' is."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry_after=0.0)


class RangeReader(Protocol):
    def read(
        self, topic: str, partition: int, first: int, last: int, timeout_s: float
    ) -> list[Message]:
        """The messages of ``topic[partition]`` at offsets ``[first, last]`` (those still in
        the log), within ``timeout_s``. Raises :class:`RangeUnavailable`."""
        ...

    def close(self) -> None:
        """Release the side consumer (if one was made)."""
        ...


class KafkaRangeReader:
    """A side consumer reading offset ranges; one per worker, created at the first read."""

    def __init__(self, config: dict[str, Any], clock: Clock) -> None:
        self._config = {
            **config,
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",  # a range partly deleted: read what is left
        }
        self._clock = clock
        self._consumer: Consumer | None = None

    def read(
        self, topic: str, partition: int, first: int, last: int, timeout_s: float
    ) -> list[Message]:
        """Blocks up to ``timeout_s``; see :meth:`RangeReader.read`."""
        if self._consumer is None:
            self._consumer = Consumer(self._config)
        consumer = self._consumer
        deadline = self._clock.monotonic() + timeout_s
        consumer.assign([TopicPartition(topic, partition, first)])
        out: list[Message] = []
        try:
            while self._clock.monotonic() < deadline:
                wait = max(0.0, min(0.2, deadline - self._clock.monotonic()))
                for message in consumer.consume(1000, wait):
                    error = message.error()
                    if error is not None and error.code() == KafkaError._PARTITION_EOF:
                        return out  # the end of the log: the rest of the range is gone
                    if error is not None:
                        raise RangeUnavailable(f"reading {topic}[{partition}]: {error}")
                    offset = message.offset() or 0
                    if offset > last:
                        return out
                    out.append(message)
                    if offset == last:
                        return out
        except KafkaException as exc:
            raise RangeUnavailable(f"reading {topic}[{partition}]: {exc}") from exc
        finally:
            consumer.unassign()
        raise RangeUnavailable(
            f"reading {topic}[{partition}] offsets {first}-{last}: "
            f"not done within {timeout_s:.1f} s"
        )

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
