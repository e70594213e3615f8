"""Consumer lag, in offsets and in seconds, from the messages just polled."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from tickwatch.clock import Clock
from tickwatch.telemetry.catalog import LoadMetrics


def report_lag(
    consumer: Consumer,
    newest: dict[tuple[str, int], tuple[int, int]],
    metrics: LoadMetrics,
    clock: Clock,
) -> int:
    """Record the lag of every partition in ``newest`` ((topic, partition) -> the offset and
    Kafka timestamp in ms of the newest message just read).

    Offsets = high watermark (as last fetched; no broker round trip) minus the next offset to read;
    seconds = age of the newest message read, or 0 when nothing is left to read. Returns the
    offsets left to read, summed over those partitions.
    """
    now = clock.time()
    total = 0
    for (topic, partition), (offset, timestamp_ms) in newest.items():
        _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
        if high < 0:
            continue
        behind = max(0, high - offset - 1)
        seconds = max(0.0, now - timestamp_ms / 1000) if behind else 0.0
        metrics.consumer_lag(topic, partition, behind, seconds)
        total += behind
    return total
