"""A replay exactly once across ``kill -9``: records and position commit in one Kafka transaction.

The file checkpoint (:mod:`pipeline.sources.replay_checkpoint`) is written after Kafka
acknowledged the records it covers, so a process killed between the two re-sends them. Here the
position is itself a Kafka record, in a compacted one-partition topic
(``ingest.replay_checkpoint_topic``, key = the replay's checkpoint name), produced by the same
transactional producer as the records and committed in the same transaction.

Order of operations, written down where it happens:

* start (:meth:`ReplayTransactions.producer_factory`, then :meth:`KafkaReplayCheckpoint.load`):
  ``init_transactions()`` with ``transactional.id = tickwatch-replay-<name>`` fences any earlier
  producer of this replay and aborts its open transaction (what a killed run sent since its last
  commit) → commit a start marker in a transaction of its own → read the position topic
  ``read_committed`` up to that marker, newest value of our key → ``begin_transaction()``;
* each checkpoint (the ingest worker every ``ingest.checkpoint_interval_s`` and once after its
  final flush; the replay source itself before a pause longer than
  ``replay.COMMIT_BEFORE_SLEEP_S``): produce the position record → ``commit_transaction()``
  (which flushes, and fails if any record of the transaction failed) → ``begin_transaction()``.

What that guarantees: a committed position covers exactly the records of the committed
transactions, because both are in them. The load worker reads ``read_committed``
(``pipeline.load_cli``), so records of a transaction that never committed are never loaded; the
restart resumes at the last committed position and sends the rest once. A failed commit aborts
the transaction and stops the worker (CheckpointError, exit 1); the restart resumes the same way.

Limits: one replay path is replayed by one process at a time (a second one with the same path
fences the first, which then stops); a transaction is open at most one checkpoint interval (or
one pause), which must stay under ``ingest.replay_transaction_timeout_ms`` and the broker's
``transaction.max.timeout.ms`` (15 min by default).
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Producer,
    TopicPartition,
)
from loguru import logger

from pipeline.sources.checkpoint import CheckpointError
from pipeline.sources.replay import ReplaySource
from pipeline.sources.replay_checkpoint import (
    ReplayPosition,
    checkpoint_path,
    fingerprint,
    position_body,
    read_position,
)
from tickwatch.clock import SYSTEM_CLOCK, MonotonicClock
from tickwatch.deadline import Deadline
from tickwatch.settings import IngestSettings, KafkaSettings, Settings
from tickwatch.topics import TopicAdminError, create_topics

READ_TIMEOUT_S = 30.0
POLL_S = 0.5
START_SUFFIX = b"#start"  # the key of the marker each start commits (compacted to the last)


class ReplayTransactions:
    """One replay's transactional producer and its position records."""

    def __init__(
        self,
        kafka: KafkaSettings,
        ingest: IngestSettings,
        bootstrap: str,
        name: str,
        clock: MonotonicClock = SYSTEM_CLOCK,
    ) -> None:
        self._kafka, self._bootstrap, self._clock = kafka, bootstrap, clock
        self.topic = ingest.replay_checkpoint_topic
        self.key = name.encode()
        self.transactional_id = f"tickwatch-replay-{name}"
        self._timeout_ms = ingest.replay_transaction_timeout_ms
        self._producer: Producer | None = None

    def ensure_topic(self, timeout_s: float = 10.0) -> None:
        """Create the compacted position topic unless it exists; raises CheckpointError."""
        config = self._kafka.client_config(self._bootstrap)
        topic = {"cleanup.policy": "compact"}
        if self._kafka.min_insync_replicas:
            topic["min.insync.replicas"] = str(self._kafka.min_insync_replicas)
        try:
            create_topics(
                config, [self.topic], 1, self._kafka.replication_factor, timeout_s,
                topic_config=topic,
            )  # fmt: skip
        except TopicAdminError as exc:
            raise CheckpointError(f"replay position topic {self.topic}: {exc}") from None

    def producer_factory(self, config: dict[str, Any]) -> Producer:
        """The ingest producer, transactional: ``init_transactions()`` fences the previous run
        and aborts its open transaction before anything is read or sent (blocks up to
        ``READ_TIMEOUT_S``; raises CheckpointError)."""
        producer = Producer(
            config
            | {
                "transactional.id": self.transactional_id,
                "transaction.timeout.ms": self._timeout_ms,
            }
        )
        try:
            producer.init_transactions(READ_TIMEOUT_S)
        except KafkaException as exc:
            raise CheckpointError(f"replay transactions ({self.transactional_id}): {exc}") from None
        logger.info(
            "replay transactions {} (positions in {}): previous run fenced",
            self.transactional_id, self.topic,
        )  # fmt: skip
        self._producer = producer
        return producer

    def read(self) -> dict[str, Any] | None:
        """The newest committed position body of this replay, None if there is none.

        How the end is found: a small transaction of our own commits a start marker (key
        ``<name>#start``, a fresh nonce) to the position topic, then the topic is read
        ``read_committed`` until that marker. Everything committed before it (every position of
        earlier runs) comes before it; a transaction of someone else still open in front of it
        holds the read back instead of letting it miss a position. (Not the partition-EOF event
        or the high watermark: a log ending in transaction markers sends no EOF, and the
        consumer's position stops before them.) Raises CheckpointError when the marker is not
        read within ``READ_TIMEOUT_S``.
        """
        producer = self._started()
        nonce = uuid.uuid4().hex.encode()
        try:
            producer.begin_transaction()
            producer.produce(self.topic, nonce, self.key + START_SUFFIX)
            producer.commit_transaction(READ_TIMEOUT_S)
        except KafkaException as exc:
            raise CheckpointError(f"replay positions {self.topic}: {exc}") from None
        consumer = Consumer(
            self._kafka.client_config(self._bootstrap)
            | {
                "group.id": f"{self.transactional_id}-reader",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        try:
            consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
            return self._newest(consumer, nonce)
        finally:
            consumer.close()

    def _newest(self, consumer: Consumer, nonce: bytes) -> dict[str, Any] | None:
        deadline = Deadline(READ_TIMEOUT_S, self._clock)
        newest: bytes | None = None
        while not deadline.expired():
            message = consumer.poll(POLL_S)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                raise CheckpointError(f"reading replay positions from {self.topic}: {error}")
            key, value = message.key(), message.value()
            if key == self.key:
                newest = value
            elif key == self.key + START_SUFFIX and value == nonce:
                return orjson.loads(newest) if newest else None
        raise CheckpointError(
            f"reading replay positions from {self.topic}: the start marker was not read back "
            f"in {READ_TIMEOUT_S:.0f} s (a transaction left open in front of it?)"
        )

    def begin(self) -> None:
        """Open the next transaction; raises CheckpointError."""
        producer = self._started()
        try:
            producer.begin_transaction()
        except KafkaException as exc:
            raise CheckpointError(f"replay transactions: begin failed: {exc}") from None

    def commit(self, value: bytes) -> None:
        """Produce the position record, commit the transaction (its records with it), begin
        the next. Aborts and raises CheckpointError when the commit fails."""
        producer = self._started()
        try:
            producer.produce(self.topic, value, self.key)
            producer.commit_transaction(self._timeout_ms / 1000)
        except KafkaException as exc:
            self._abort()
            raise CheckpointError(f"replay transactions: commit failed: {exc}") from None
        self.begin()

    def _abort(self) -> None:
        # fenced or fatal: the broker aborts it (its timeout, or the next init_transactions)
        with contextlib.suppress(KafkaException):
            self._started().abort_transaction(READ_TIMEOUT_S)

    def _started(self) -> Producer:
        if self._producer is None:
            raise CheckpointError("replay transactions: the producer was not built yet")
        return self._producer


class KafkaReplayCheckpoint:
    """A replay's position kept in Kafka, committed with the records (``commits_records``)."""

    commits_records = True

    def __init__(self, transactions: ReplayTransactions, replay_path: Path, files: list[Path]):
        self._tx = transactions
        self._replay_path = replay_path
        self._files = fingerprint(files)
        self._failed: str | None = None

    @property
    def where(self) -> str:
        """The topic and key."""
        return f"kafka:{self._tx.topic}/{self._tx.key.decode()}"

    def load(self) -> ReplayPosition:
        """The committed position (read after the previous run's open transaction was
        aborted). Raises CheckpointError."""
        return read_position(self._tx.read(), self._files, self.where, self._replay_path)

    def save(self, position: ReplayPosition) -> None:
        """Commit the records sent so far together with ``position``. After one failure every
        later call raises too: the run must stop and resume from the last commit."""
        if self._failed is not None:
            raise CheckpointError(self._failed)
        try:
            self._tx.commit(position_body(self._replay_path, self._files, position))
        except CheckpointError as exc:
            self._failed = str(exc)
            raise


def replay_transactions(settings: Settings, bootstrap: str) -> ReplayTransactions:
    """The transactions of ``ingest.replay_path``, its position topic created; pass
    :meth:`ReplayTransactions.producer_factory` to the producer, then call :func:`attach`.
    Raises CheckpointError."""
    path = settings.ingest.replay_path
    if path is None:
        raise CheckpointError("ingest.replay_path is not set (TICKWATCH_INGEST_REPLAY_PATH)")
    name = checkpoint_path(Path(), path).stem  # the replay's name and a digest of its path
    transactions = ReplayTransactions(settings.kafka, settings.ingest, bootstrap, name)
    transactions.ensure_topic()
    return transactions


def attach(source: ReplaySource, transactions: ReplayTransactions, replay_path: Path) -> None:
    """Give the replay ``source`` its Kafka position (after the producer was built: the read
    follows ``init_transactions``) and open the first transaction. Raises CheckpointError."""
    source.resume_from(KafkaReplayCheckpoint(transactions, replay_path, source.files))
    transactions.begin()
