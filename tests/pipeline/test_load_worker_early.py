"""The worker's side of the early cut (stand-ins, injected clock): the consumer counts as
behind from its lag (``load.backlog_lag_messages``), not from a full poll, and a poll never
waits past the time the next batch is due."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.load.worker import POLL_TIMEOUT_S
from tests.pipeline.test_load_worker import (
    TOPIC,
    FakeBroker,
    FakeClickHouse,
    Rig,
    trade_value,
)


def inserts(ch: FakeClickHouse) -> list[str]:
    return [e for e in ch.events if e.startswith(f"insert {TOPIC}:")]


def rig(lag_messages: int, **load: Any) -> tuple[Rig, FakeClickHouse]:
    broker = FakeBroker()
    for i in range(20):
        broker.produce(TOPIC, 0, trade_value(i))
    ch = FakeClickHouse([])
    # one message a poll is far below the default batch_min_rate: the rate is off here (its
    # own tests: test_load_batch_rate.py), these are about the lag and the poll's wait
    settings = {"batch_max_rows": 1000, "batch_max_ms": 500, "batch_backlog_max_ms": 2_000,
                "batch_min_rows": 1, "batch_min_rate": 0}  # fmt: skip
    return Rig(broker, ch, poll_batch=1, backlog_lag_messages=lag_messages, **settings, **load), ch


def test_full_polls_with_a_small_lag_still_cut_early() -> None:
    worker, ch = rig(lag_messages=1_000, batch_min_ms=100)
    worker.worker.step()  # every poll is full (poll_batch=1), 19 messages left: keeping up
    worker.clock.advance(0.1)
    worker.worker.step()
    assert inserts(ch) == [f"insert {TOPIC}:0:0-1"]


def test_a_lag_at_the_threshold_stretches_batches_to_the_backlog_age() -> None:
    worker, ch = rig(lag_messages=5, batch_min_ms=100)
    for _ in range(4):
        worker.worker.step()
        worker.clock.advance(0.25)
    assert inserts(ch) == []  # behind: neither the early cut nor batch_max_ms applies
    for _ in range(5):
        worker.worker.step()
        worker.clock.advance(0.25)
    assert inserts(ch) == [f"insert {TOPIC}:0:0-8"]  # 2 s old: 9 polls of one


def test_the_poll_waits_no_longer_than_the_next_due_batch() -> None:
    worker, _ch = rig(lag_messages=1_000, batch_min_ms=100)
    waits: list[float] = []
    consume = worker.consumer.consume

    def recording(num_messages: int, timeout: float) -> Any:
        waits.append(timeout)
        return consume(num_messages, timeout)

    worker.consumer.consume = recording  # type: ignore[method-assign]
    worker.worker.step()
    worker.clock.advance(0.07)
    worker.worker.step()
    assert waits[0] == POLL_TIMEOUT_S  # nothing open yet
    assert waits[1] == pytest.approx(0.03)  # the open batch is due 100 ms after it opened
