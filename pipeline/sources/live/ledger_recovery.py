"""Closing the crash window: trade keys Kafka holds but the ledger's journal does not.

The trade ledger's journal is written only at checkpoints (after Kafka acknowledged everything
handed out). A process killed between two checkpoints leaves trades in Kafka whose keys the
journal lacks; if the vendor re-sends them after the restart they would enter Kafka twice.

So before a live source connects, the ingest entry point calls :func:`recover_keys`: it reads the
trades topic from a little before the last checkpoint (the journal's modification time minus
``MARGIN_S``; every record the journal lacks was produced after that checkpoint, so its Kafka
timestamp — the producer's create time — is later) up to the end, and adds the keys of this
source's trades to the ledger. With a clean shutdown that is a few seconds of the topic; after a
crash, at most one checkpoint interval more. Without a journal (first start, or the state dir
was lost) it reads back ``window_s``.

Guarantee (with this step): a trade with a vendor id that Kafka acknowledged is not produced
again by a restarted source whose vendor re-sends it, whether the process stopped or was killed,
as long as the broker clocks and ours agree within ``MARGIN_S``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from loguru import logger

from pipeline.sources.live.trade_ledger import TradeLedger
from tickwatch.clients import kafka_config
from tickwatch.clock import SYSTEM_CLOCK
from tickwatch.deadline import Deadline
from tickwatch.settings import KafkaSettings

MARGIN_S = 5.0
POLL_S = 0.5
RETRY_S = 0.2
_TRANSIENT = frozenset({KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE})


def recover_since_ms(journal: Path | None, window_s: float, now_s: float) -> int:
    """Where to start reading: the last checkpoint minus the margin, else ``window_s`` ago."""
    try:
        checkpointed = journal.stat().st_mtime if journal is not None else None
    except FileNotFoundError:
        checkpointed = None
    start = checkpointed if checkpointed is not None else now_s - window_s
    return int((start - MARGIN_S) * 1000)


def recover_keys(
    ledger: TradeLedger,
    source: str,
    kafka: KafkaSettings,
    bootstrap: str,
    *,
    window_s: float,
    timeout_s: float = 30.0,
) -> int:
    """Add the keys of ``source``'s trades in Kafka since the last checkpoint; return how many.

    Reads ``kafka.topic_trades`` from :func:`recover_since_ms` to the high watermark of every
    partition (bounded by ``timeout_s``; a partial read is logged, never silently taken as all).
    """
    since_ms = recover_since_ms(ledger.path, window_s, time.time())

    def remember(body: dict[str, object]) -> int:
        return int(body.get("source") == source and ledger.remember_wire(body))

    found = read_back(
        kafka, bootstrap, kafka.topic_trades, since_ms=since_ms,
        group_id=f"tickwatch-ledger-{source}", visit=remember, timeout_s=timeout_s,
    )  # fmt: skip
    logger.info("{}: recovered {} trade keys from Kafka since the last checkpoint", source, found)
    return found


Visit = Callable[[dict[str, object]], int]


def read_back(
    kafka: KafkaSettings,
    bootstrap: str,
    topic: str,
    *,
    since_ms: int,
    group_id: str,
    visit: Visit,
    timeout_s: float = 30.0,
) -> int:
    """Hand every JSON object in ``topic`` from ``since_ms`` (Kafka time) to its end to
    ``visit``; return the sum of what ``visit`` returned. Used by every source that reads back
    what it handed out after its last checkpoint (live trade ledgers, polling watermarks).

    Bounded by ``timeout_s``; a partial read is logged. Raises KafkaException.
    """
    group: dict[str, str | int | bool] = {"group.id": group_id, "enable.auto.commit": False}
    consumer = Consumer(kafka_config(kafka, bootstrap, **group))
    try:
        ends = _assign(consumer, topic, since_ms, timeout_s)
        return _read(consumer, visit, group_id, ends, Deadline(timeout_s, SYSTEM_CLOCK))
    finally:
        consumer.close()


def _assign(consumer: Consumer, topic: str, since_ms: int, timeout_s: float) -> dict[int, int]:
    """Assign every partition at the first offset at/after ``since_ms``; return the end offsets."""
    deadline = Deadline(timeout_s, SYSTEM_CLOCK)
    numbers = _partitions(consumer, topic, deadline)
    starts = _offsets_for_times(consumer, topic, numbers, since_ms, deadline)
    assigned, ends = [], {}
    for tp in starts:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout_s)
        if tp.offset < 0 or tp.offset >= high:
            continue  # nothing produced since then on this partition
        assigned.append(tp)
        ends[tp.partition] = high
    consumer.assign(assigned)
    return ends


def _partitions(consumer: Consumer, topic: str, deadline: Deadline) -> list[int]:
    """The topic's partition numbers; waits while fresh metadata does not list them yet."""
    while True:
        metadata = consumer.list_topics(topic, timeout=max(deadline.remaining(), POLL_S))
        found = metadata.topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            return sorted(found.partitions)
        if deadline.expired():
            raise KafkaException(
                KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"no partitions of {topic} visible")
            )
        time.sleep(RETRY_S)


def _offsets_for_times(
    consumer: Consumer, topic: str, numbers: list[int], since_ms: int, deadline: Deadline
) -> list[TopicPartition]:
    """``offsets_for_times``, retried while Kafka says "try again" (a leader moving).

    The query list is built again for every attempt: a failed call leaves its list unusable.
    """
    while True:
        partitions = [TopicPartition(topic, p, since_ms) for p in numbers]
        try:
            found: list[TopicPartition] = consumer.offsets_for_times(
                partitions, timeout=max(deadline.remaining(), POLL_S)
            )
            return found
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            retriable = isinstance(error, KafkaError) and (
                error.retriable() or error.code() in _TRANSIENT
            )
            if not retriable or deadline.expired():
                raise
            time.sleep(RETRY_S)


def _read(
    consumer: Consumer, visit: Visit, reader: str, ends: dict[int, int], deadline: Deadline
) -> int:
    found = 0
    while ends and not deadline.expired():
        for message in consumer.consume(10_000, timeout=POLL_S):
            if message.error() is not None:
                continue
            partition, offset = message.partition(), message.offset() or 0
            found += _visit(visit, message.value())
            if partition in ends and offset + 1 >= ends[partition]:
                del ends[partition]
    if ends:
        logger.error("{}: read-back stopped before the end of partitions {}", reader, sorted(ends))
    return found


def _visit(visit: Visit, value: bytes | None) -> int:
    try:
        body = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return 0
    return visit(body) if isinstance(body, dict) else 0
