"""Records the load worker has not loaded yet: Kafka between its committed offsets and the end.

The natural-key filter (:mod:`pipeline.backfill.loaded`) looks in ClickHouse; a live record
still in Kafka is not there yet. The load worker commits an offset only after the rows before
it are in ClickHouse, so, read in this order, the two together see every record produced
before the run started:

1. the load group's committed offset of every partition of the topic (no committed offset:
   the partition's start);
2. the records from there to the end, ``read_committed`` (as the load worker reads them) —
   keys of the ones that match go into the set;
3. then, page by page, ClickHouse: every record before the offsets of step 1 is in it.

Reading only from the committed offsets bounds the read by the load worker's lag, not by the
topic's retention. Blocks up to ``timeout_s``; a read that does not reach the end raises
LedgerError (recoverable) rather than pass as complete. Not seen: a record produced after step
2 whose key matches (a vendor re-sending an old trade while the backfill runs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from pipeline.backfill.errors import LedgerError
from tickwatch.clock import SYSTEM_CLOCK
from tickwatch.deadline import Deadline

Match = Callable[[dict[str, Any]], str | None]
POLL_S = 0.5


class InFlight:
    """One topic's records past the load group's committed offsets."""

    def __init__(
        self, config: dict[str, Any], topic: str, group: str, timeout_s: float = 30.0
    ) -> None:
        self._config, self._topic, self._group, self._timeout_s = config, topic, group, timeout_s

    def keys(self, match: Match) -> set[str]:
        """The keys ``match`` gives the decoded records not yet loaded (None = skip)."""
        consumer = Consumer(
            self._config | {
                "group.id": self._group, "enable.auto.commit": False,
                "isolation.level": "read_committed", "enable.partition.eof": True,
            }
        )  # fmt: skip
        try:
            ends = self._assign(consumer)
            return self._read(consumer, ends, match)
        except KafkaException as exc:
            raise LedgerError(f"reading the unloaded records of {self._topic}: {exc}") from None
        finally:
            consumer.close()  # assigned, never subscribed: nothing joins or commits

    def _assign(self, consumer: Consumer) -> dict[int, int]:
        """Assign every partition at the load group's committed offset; return the ends."""
        found = consumer.list_topics(self._topic, timeout=self._timeout_s).topics.get(self._topic)
        if found is None or found.error is not None:
            return {}  # no such topic yet: nothing in flight
        asked = [TopicPartition(self._topic, p) for p in sorted(found.partitions)]
        committed = consumer.committed(asked, timeout=self._timeout_s)
        assigned, ends = [], {}
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, timeout=self._timeout_s)
            start = tp.offset if tp.offset >= 0 else low
            if start < high:
                assigned.append(TopicPartition(self._topic, tp.partition, start))
                ends[tp.partition] = high
        consumer.assign(assigned)
        return ends

    def _read(self, consumer: Consumer, ends: dict[int, int], match: Match) -> set[str]:
        keys: set[str] = set()
        deadline = Deadline(self._timeout_s, SYSTEM_CLOCK)
        while ends:
            if deadline.expired():
                raise LedgerError(
                    f"reading the unloaded records of {self._topic}: partitions {sorted(ends)} "
                    f"not read to their end in {self._timeout_s:.0f} s"
                )
            for message in consumer.consume(10_000, timeout=POLL_S):
                partition = message.partition() or 0
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        ends.pop(partition, None)
                    continue
                _add(keys, match, message.value())
                if (message.offset() or 0) + 1 >= ends.get(partition, 0):
                    ends.pop(partition, None)
        return keys


def _add(keys: set[str], match: Match, value: bytes | None) -> None:
    try:
        body = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return  # the load worker dead-letters it: never loaded, nothing to match
    if isinstance(body, dict):
        key = match(body)
        if key is not None:
            keys.add(key)
