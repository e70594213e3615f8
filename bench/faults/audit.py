"""The ground truth of a fault: what is in Kafka against what is in ClickHouse.

Every message in a lane's record topics (offsets from each partition's low to its high
watermark) must end up exactly once as a row (``market.<table>``, keyed by
``(kafka_partition, kafka_offset)``) or as a dead letter (``ops.dead_letters``). Messages below
the low watermark that were never loaded were deleted from Kafka (retention, DeleteRecords):
they are counted apart, not as lost, since no consumer could have read them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, TopicPartition

from pipeline.load.tables import TABLES
from pipeline.topics import record_topics
from tickwatch.settings import KafkaSettings

Coordinate = tuple[str, int, int]  # topic, partition, offset


@dataclass
class Tally:
    """One look at a lane: how many messages, rows, duplicates, dead letters, and which are
    missing. ``dead_letters`` maps (topic, partition, offset) to the reason recorded."""

    produced: int = 0
    rows: int = 0
    duplicate_rows: int = 0
    duplicate_dead_letters: int = 0
    deleted_unread: int = 0
    missing: set[Coordinate] = field(default_factory=set)
    loaded: set[Coordinate] = field(default_factory=set)
    dead_letters: dict[Coordinate, str] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return len(self.missing)

    @property
    def duplicates(self) -> int:
        return self.duplicate_rows + self.duplicate_dead_letters

    def reasons(self) -> Counter[str]:
        return Counter(self.dead_letters.values())

    def both(self) -> set[Coordinate]:
        """Messages that are a row *and* a dead letter (must be none)."""
        return self.loaded & set(self.dead_letters)


def watermarks(kafka: KafkaSettings, bootstrap: str) -> dict[Coordinate, int]:
    """(topic, partition, low) -> high for every record topic partition of the lane."""
    consumer = Consumer(
        kafka.client_config(bootstrap) | {"group.id": f"{kafka.consumer_group}.audit"}
    )
    try:
        out = {}
        for topic in record_topics(kafka).values():
            for partition in range(kafka.partitions):
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                out[(topic, partition, low)] = high
        return out
    finally:
        consumer.close()


def tally(kafka: KafkaSettings, bootstrap: str, client: Client, ops: str) -> Tally:
    """Count everything once (a few queries; fine for the lanes' tens of thousands of rows)."""
    out = Tally()
    for kind, topic in record_topics(kafka).items():
        table = TABLES[kind]
        total, distinct = client.query(
            f"SELECT count(), uniqExact(kafka_partition, kafka_offset) FROM {table}"
        ).result_rows[0]
        out.rows += int(distinct)
        out.duplicate_rows += int(total) - int(distinct)
        rows = client.query(f"SELECT DISTINCT kafka_partition, kafka_offset FROM {table}")
        out.loaded |= {(topic, int(p), int(o)) for p, o in rows.result_rows}
    letters = client.query(
        f"SELECT topic, kafka_partition, kafka_offset, any(reason), count() "
        f"FROM {ops}.dead_letters GROUP BY topic, kafka_partition, kafka_offset"
    ).result_rows
    for topic, partition, offset, reason, n in letters:
        out.dead_letters[(str(topic), int(partition), int(offset))] = str(reason)
        out.duplicate_dead_letters += int(n) - 1
    accounted = out.loaded | set(out.dead_letters)
    for (topic, partition, low), high in watermarks(kafka, bootstrap).items():
        out.produced += high - low
        in_log = {(topic, partition, o) for o in range(low, high)}
        out.missing |= in_log - accounted
        below = {c for c in accounted if c[0] == topic and c[1] == partition and c[2] < low}
        out.produced += len(below)
        out.deleted_unread += low - len(below)
    return out
