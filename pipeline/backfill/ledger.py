"""The watermarks: a compacted Kafka topic written inside each page's transaction, mirrored
into ClickHouse ``ops.backfill_watermarks`` for queries and dashboards.

Why a transaction, not natural-key deduplication in ClickHouse
---------------------------------------------------------------
A bar (or trade) produced twice lands at two Kafka offsets and the load worker — exactly once
*per offset* — loads it twice; ``market.bars`` is a plain MergeTree, so only a dedup at read
time (``FINAL``) could hide it, and ``count()`` would still be wrong. So a bar must reach the
topic once.
A backfill process can die at any point between "produced" and "recorded as produced". With
a **transactional producer** (``transactional.id`` fixed per (source, symbol, interval)) each
page's bars and its watermark record are committed atomically:

* the load worker's consumer reads ``read_committed`` (librdkafka's default, which it keeps), so
  bars of a transaction that never committed are never loaded;
* the next run's ``init_transactions()`` with the same id fences the dead producer and aborts
  its open transaction *before* this module reads the watermarks, so what it reads is final;
* the watermark records are read ``read_committed`` too, so a watermark exists if and only if
  its bars are committed. Nothing can be lost or doubled between the two.

The ClickHouse mirror is written after each commit. It can lag by the last page after a kill
(that page is still in the Kafka ledger, which wins) and it outlives the topic; the covered
spans are the union of both. Records that came from elsewhere (the live stream, another run
with other spans) are filtered by their natural key against ``market.bars`` / ``market.trades``
before producing (:mod:`pipeline.backfill.loaded`), and against the records still in Kafka
past the load worker's committed offsets (:mod:`pipeline.backfill.inflight`). What that cannot
see: a live record for the same key produced while the backfill runs — backfill ranges end
before the live stream's lag, ``tickwatch gaps`` lists only minutes at least ``GAP_SETTLE_S``
old, and trades ranges are cut to end that long before now
(:mod:`pipeline.backfill.trades_window`). Trades work the same way
with interval 0 in every key (:data:`pipeline.backfill.interval.TRADES`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from pipeline.backfill.coverage import Mark
from pipeline.backfill.errors import LedgerError
from tickwatch.clock import WallClock

READ_TIMEOUT_S = 30.0


def mark_value(mark: Mark, run_id: str, now_us: int) -> bytes:
    """The ledger record's JSON value."""
    return orjson.dumps(
        {
            "source": mark.source, "symbol": mark.symbol, "interval_s": mark.interval_s,
            "start_us": mark.start_us, "watermark_us": mark.watermark_us, "bars": mark.bars,
            "run_id": run_id, "committed_us": now_us,
        }
    )  # fmt: skip


def ensure_topic(config: dict[str, Any], topic: str, replication_factor: int) -> None:
    """Create the compacted, one-partition ledger topic unless it exists; raises LedgerError
    when Kafka does not answer within 10 s."""
    admin = AdminClient(config)
    try:
        if topic in admin.list_topics(timeout=10).topics:
            return
    except KafkaException as exc:
        raise LedgerError(f"Kafka at {config.get('bootstrap.servers')}: {exc}") from None
    spec = NewTopic(topic, 1, replication_factor, config={"cleanup.policy": "compact"})
    try:
        admin.create_topics([spec])[topic].result(30)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise LedgerError(f"creating the backfill ledger topic {topic}: {exc}") from None


def read_marks(config: dict[str, Any], topic: str, prefix: str) -> list[Mark]:
    """Every committed mark whose key starts with ``prefix`` (latest value per key).

    Reads the topic from the beginning to its end, ``read_committed``. Blocks up to
    ``READ_TIMEOUT_S``; raises LedgerError if the end is not reached by then.
    """
    consumer = Consumer(
        config | {
            "group.id": "tickwatch-backfill-ledger", "enable.auto.commit": False,
            "isolation.level": "read_committed", "enable.partition.eof": True,
        }
    )  # fmt: skip
    latest: dict[str, Mark] = {}
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        _drain(consumer, topic, prefix.encode(), latest)
    finally:
        consumer.close()
    return list(latest.values())


def _drain(consumer: Consumer, topic: str, prefix: bytes, latest: dict[str, Mark]) -> None:
    polls = int(READ_TIMEOUT_S / 0.5)
    for _ in range(polls):
        message = consumer.poll(0.5)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            raise LedgerError(f"reading the backfill ledger {topic}: {error}")
        key = message.key() or b""
        value = message.value()
        if key.startswith(prefix) and value:
            body = orjson.loads(value)
            latest[key.decode()] = _mark(body)
    raise LedgerError(f"reading the backfill ledger {topic}: no end in {READ_TIMEOUT_S:.0f} s")


def _mark(body: dict[str, Any]) -> Mark:
    return Mark(
        str(body["source"]), str(body["symbol"]), int(body["interval_s"]),
        int(body["start_us"]), int(body["watermark_us"]), int(body.get("bars", 0)),
    )  # fmt: skip


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def at(ts_us: int) -> datetime:
    """Microseconds since the epoch as an exact UTC datetime."""
    return EPOCH + timedelta(microseconds=ts_us)


class Mirror:
    """``ops.backfill_watermarks``: the marks, queryable (ReplacingMergeTree by updated_at)."""

    COLUMNS = (
        "source", "symbol", "interval_s", "range_start", "watermark", "bars", "run_id",
        "updated_at",
    )  # fmt: skip

    def __init__(self, client: Client, ops_db: str, clock: WallClock) -> None:
        self._client, self._table, self._clock = client, f"{ops_db}.backfill_watermarks", clock

    def write(self, marks: Iterable[Mark], run_id: str) -> None:
        """Insert the marks (after their transaction committed)."""
        now = int(self._clock.time() * 1e6)
        rows = [
            [
                m.source,
                m.symbol,
                m.interval_s,
                at(m.start_us),
                at(m.watermark_us),
                m.bars,
                run_id,
                at(now),
            ]
            for m in marks
        ]
        if rows:
            self._client.insert(self._table, rows, column_names=list(self.COLUMNS))

    def read(self, source: str, symbol: str, interval_s: int) -> list[Mark]:
        """The mirrored marks of one key."""
        result = self._client.query(
            f"SELECT toUnixTimestamp64Micro(range_start), toUnixTimestamp64Micro(watermark), bars "
            f"FROM {self._table} FINAL WHERE source = {{s:String}} AND symbol = {{y:String}} "
            f"AND interval_s = {{i:UInt32}}",
            parameters={"s": source, "y": symbol, "i": interval_s},
        )
        return [
            Mark(source, symbol, interval_s, int(lo), int(hi), int(n))
            for lo, hi, n in result.result_rows
        ]
