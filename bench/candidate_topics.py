"""Topics holding the pre-filled trades again, in each candidate encoding of
:mod:`bench.wire_candidates`, for the ``floor`` scenario.

Each is filled from the run's own seeded tape (:meth:`bench.context.BenchContext.tape`), chunk
by chunk as :func:`bench.prefill.prefill` fills the JSON v1 topic: every chunk's JSON values are
read into columns by :func:`pipeline.codec.columnar.read_joined` and encoded from those, so the
rows are the JSON topic's rows. Same producer settings (lz4). Per-tick messages keep the JSON
messages' keys, so the partitioner puts them where it put those; a block holds the rows of one
partition (the partition librdkafka's default partitioner gives their key: CRC-32 of the key
modulo the partition count) and is produced to that partition, without a key. After filling, the
rows per partition must equal the JSON topic's messages per partition.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa
from confluent_kafka import Producer

from bench.deadline import Deadline
from bench.errors import BenchError
from bench.prefill import PRODUCER_CONFIG, PrefilledTopic
from bench.tape import TradeTape
from bench.topics import OffsetProbe, TopicSet
from bench.wire_candidates import blocks, encode_rows
from pipeline.codec import RecordType
from pipeline.codec.columnar import read_joined

UNASSIGNED = -1  # librdkafka's "let the partitioner choose"


@dataclass(frozen=True)
class CandidateTopic:
    """A trades topic holding ``rows`` trades in ``messages`` messages of one encoding, their
    values ``value_bytes`` long in all (before compression), where the JSON v1 values of the
    same trades are ``json_bytes``."""

    topic: str
    messages: int
    rows: int
    seconds: float
    value_bytes: int = 0
    json_bytes: int = 0


# (value, key or None, partition or UNASSIGNED, rows) for each message of one tape chunk
Encoded = Iterable[tuple[bytes, bytes | None, int, int]]
Encoder = Callable[[pa.Table, list[bytes]], Encoded]


def per_tick(table: pa.Table, keys: list[bytes]) -> Encoded:
    """One per-tick binary message per row, under the JSON message's key."""
    return ((v, k, UNASSIGNED, 1) for v, k in zip(encode_rows(table), keys, strict=True))


def partition_of(key: bytes, partitions: int) -> int:
    """The partition librdkafka's default (``consistent_random``) partitioner gives ``key``."""
    return zlib.crc32(key) % partitions


def per_block(partitions: int, rows: int) -> Encoder:
    """Blocks of at most ``rows`` rows of one partition, each to that partition, no key."""

    def encode(table: pa.Table, keys: list[bytes]) -> Encoded:
        where = {k: partition_of(k, partitions) for k in set(keys)}
        for partition, value, count in blocks(table, [where[k] for k in keys], rows):
            yield value, None, partition, count

    return encode


def fill(
    bootstrap: str,
    topics: TopicSet,
    tape: TradeTape,
    *,
    encoder: Encoder,
    reference: PrefilledTopic,
    deadline: Deadline,
) -> CandidateTopic:
    """Produce ``tape``'s trades encoded by ``encoder`` to ``topics.trades`` (created, empty),
    and wait until all are acknowledged.

    Raises :class:`BenchError` when the topic holds other than the messages produced, or a
    partition's rows differ from the messages of the same partition of ``reference`` (the JSON
    v1 topic of the same tape); ScenarioTimeout at the deadline."""
    started = time.monotonic()
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG})
    rows: dict[int, int] = {}
    messages = size = json_size = 0
    for keys, values in tape.chunks():
        json_size += sum(map(len, values))
        table = read_joined(b"\n".join(values), RecordType.TRADE).drop_columns(["v", "type"])
        for value, key, partition, count in encoder(table, keys):
            _produce(producer, topics.trades, value, key, partition)
            rows[partition] = rows.get(partition, 0) + count
            messages += 1
            size += len(value)
        deadline.check(f"pre-filling {topics.trades}")
    left = producer.flush(max(deadline.remaining(), 0.1))
    deadline.check(f"flushing {topics.trades} ({left} messages unacknowledged)")
    _check_partitions(bootstrap, topics.trades, reference.topics.trades, messages, rows)
    seconds = time.monotonic() - started
    return CandidateTopic(topics.trades, messages, sum(rows.values()), seconds, size, json_size)


def _check_partitions(
    bootstrap: str, topic: str, json_topic: str, messages: int, rows: dict[int, int]
) -> None:
    with OffsetProbe(bootstrap, (topic, json_topic)) as probe:
        held = probe.per_partition()
    mine = {p: n for (t, p), n in held.items() if t == topic}
    expected = {p: n for (t, p), n in held.items() if t == json_topic}
    if sum(mine.values()) != messages:
        raise BenchError(f"pre-fill: {topic} holds {sum(mine.values())} messages, sent {messages}")
    got = mine if UNASSIGNED in rows else {p: rows.get(p, 0) for p in expected}
    if got != expected:
        raise BenchError(
            f"pre-fill: {topic} holds rows per partition {got}, {json_topic} {expected}"
        )


def _produce(
    producer: Producer, topic: str, value: bytes, key: bytes | None, partition: int
) -> None:
    while True:
        try:
            producer.produce(topic, value, key, partition=partition)
            return
        except BufferError:  # local queue full: let librdkafka send, then retry this one
            producer.poll(0.05)
