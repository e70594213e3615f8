"""The dead-letter queue never takes the worker down (issue 12, finding 1)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from prometheus_client import CollectorRegistry

from pipeline.dlq import KEY_MAX_BYTES, QUEUE_FULL_WAIT_S, DeadLetter, DeadLetterQueue, bounded
from tests.pipeline.test_load_worker import TOPIC, FakeBroker, FakeClickHouse, Rig, trade_value
from tickwatch.clock import ManualClock
from tickwatch.telemetry.catalog import LoadMetrics


def letter(value: bytes, key: bytes = b"k") -> DeadLetter:
    return DeadLetter("t.trades", 1, 7, 1000, key, value, "bad_symbol", "symbol length 999999")


def test_an_oversize_dead_letter_is_truncated_with_its_length_and_hash() -> None:
    value = b"x" * 1_000_000
    kept = bounded(letter(value, key=b"K" * 5000), 262_144)
    assert kept.value == value[:262_144]
    assert kept.key == b"K" * KEY_MAX_BYTES
    digest = hashlib.sha256(value).hexdigest()
    assert (kept.original_length, kept.original_sha256) == (1_000_000, digest)
    assert kept.reason == "bad_symbol"
    assert kept.detail.startswith("symbol length 999999")
    assert f"of 1000000 bytes, sha256 {digest}" in kept.detail
    headers = dict(kept.headers())
    assert headers["truncated"] == b"true"
    assert headers["original_length"] == b"1000000"
    assert headers["original_sha256"] == digest.encode()
    assert headers["reason"] == b"bad_symbol"


def test_a_dead_letter_that_fits_is_unchanged() -> None:
    small = letter(b"{nope")
    assert bounded(small, 1024) is small
    assert "truncated" not in dict(small.headers())


class ScriptedProducer:
    """produce() runs ``on_produce`` (raise, or report delivery); flush() returns 0."""

    def __init__(self, on_produce: Callable[[Callable[..., None]], None]) -> None:
        self.on_produce = on_produce
        self.polls = 0
        self.clock: ManualClock | None = None

    def produce(self, topic: str, value: Any, key: Any, *, headers: Any, on_delivery: Any) -> None:
        self.on_produce(on_delivery)

    def poll(self, timeout: float) -> int:
        self.polls += 1
        if self.clock is not None:
            self.clock.advance(timeout)
        return 0

    def flush(self, timeout: float) -> int:
        return 0


def queue(producer: ScriptedProducer) -> tuple[DeadLetterQueue, CollectorRegistry]:
    registry = CollectorRegistry()
    clock = ManualClock()
    producer.clock = clock
    dlq = DeadLetterQueue(producer, "t.dlq", LoadMetrics(registry), clock)  # type: ignore[arg-type]
    return dlq, registry


def raising(code: int) -> Callable[[Callable[..., None]], None]:
    def produce(_on_delivery: Callable[..., None]) -> None:
        raise KafkaException(KafkaError(code))

    return produce


def errors(registry: CollectorRegistry, kind: str) -> float:
    return registry.get_sample_value("tickwatch_load_dlq_errors_total", {"kind": kind}) or 0.0


def test_a_message_kafka_refuses_for_good_is_counted_and_dropped_not_raised() -> None:
    dlq, registry = queue(ScriptedProducer(raising(KafkaError.MSG_SIZE_TOO_LARGE)))
    dlq.send([letter(b"x")])
    assert dlq.flush(1.0)  # the stream moves on; ops.dead_letters holds the record
    assert errors(registry, "dropped") == 1


def test_a_transient_produce_error_is_counted_and_retried() -> None:
    dlq, registry = queue(ScriptedProducer(raising(KafkaError._UNKNOWN_TOPIC)))
    dlq.send([letter(b"x")])
    assert not dlq.flush(1.0)
    assert errors(registry, "produce") == 1


def test_a_full_queue_blocks_a_bounded_time() -> None:
    def full(_on_delivery: Callable[..., None]) -> None:
        raise BufferError("queue full")

    producer = ScriptedProducer(full)
    dlq, registry = queue(producer)
    dlq.send([letter(b"x")])
    assert producer.polls == pytest.approx(QUEUE_FULL_WAIT_S / 0.1, abs=1)
    assert not dlq.flush(1.0)
    assert errors(registry, "produce") == 1


def test_a_failed_delivery_is_counted_and_retried() -> None:
    def timed_out(on_delivery: Callable[..., None]) -> None:
        on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), None)

    dlq, registry = queue(ScriptedProducer(timed_out))
    dlq.send([letter(b"x")])
    assert not dlq.flush(1.0)
    assert errors(registry, "delivery") == 1
    assert dlq.flush(1.0)  # the next round starts clean


def test_the_worker_survives_a_dead_letter_kafka_refuses() -> None:
    broker = FakeBroker()
    for i in range(10):
        broker.produce(TOPIC, i % 2, trade_value(i))
    broker.produce(TOPIC, 0, b"{" + b"x" * 100)  # malformed
    rig = Rig(broker, FakeClickHouse([]))

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))

    rig.producer.produce = refuse  # type: ignore[method-assign]
    rig.run_until_idle()
    assert broker.committed[(TOPIC, 0)] == (6, None)
    assert broker.committed[(TOPIC, 1)] == (5, None)
