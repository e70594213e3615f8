"""Permanent rejections: the worker bisects the batch, dead-letters the offending rows, moves on.

In-memory Kafka and ClickHouse (from :mod:`tests.pipeline.test_load_worker`); the stand-in
ClickHouse rejects, like a ``CHECK`` constraint does, every insert holding a price >= 1000.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from pipeline.errors import FatalError
from tests.pipeline.test_load_worker import (
    TABLE,
    TOPIC,
    FakeBroker,
    FakeClickHouse,
    Killed,
    Rig,
    all_offsets,
    trade_value,
)

BAD_PRICE = 5000.0


class RejectingClickHouse(FakeClickHouse):
    """Rejects an insert into the trades table if any of its rows has a price >= 1000."""

    def __init__(self, events: list[str], rig_clock: Any = None) -> None:
        super().__init__(events)
        self.clock = rig_clock
        self.fatal = False

    def insert(self, table: str, data: list[list[Any]], **kwargs: Any) -> None:
        if self.clock is not None:
            self.clock.advance(1.0)  # every round trip takes a second of the worker's clock
        if self.fatal:
            raise DatabaseError("Table market.trades does not exist", code=60, name="UNKNOWN_TABLE")
        names = kwargs["column_names"]
        if table == TABLE and any(p >= 1000 for p in data[names.index("price")]):
            token = kwargs["settings"]["insert_deduplication_token"]
            self.attempts.append(token)
            raise DatabaseError(
                f"Code: 469. Constraint `sane` is violated ({token}). (VIOLATED_CONSTRAINT)",
                code=469,
                name="VIOLATED_CONSTRAINT",
            )
        super().insert(table, data, **kwargs)


def stream(bad_offsets: set[int], n: int = 40) -> tuple[FakeBroker, set[tuple[int, int]]]:
    """``n`` trades over two partitions; those at partition-0 offsets ``bad_offsets`` are
    accepted by validation but rejected by ClickHouse."""
    broker = FakeBroker()
    bad = set()
    for i in range(n):
        partition, offset = i % 2, i // 2
        if partition == 0 and offset in bad_offsets:
            broker.produce(TOPIC, 0, trade_value(i, price=BAD_PRICE))
            bad.add((0, offset))
        else:
            broker.produce(TOPIC, partition, trade_value(i))
    return broker, bad


def dead_letters(ch: FakeClickHouse) -> list[tuple[int, int, str]]:
    rows = ch.tables.get("ops.dead_letters", [])
    return sorted((r["kafka_partition"], r["kafka_offset"], r["reason"]) for r in rows)


def test_rejected_rows_are_isolated_and_dead_lettered_the_rest_lands() -> None:
    broker, bad = stream({3, 11, 12})
    ch = RejectingClickHouse([])
    rig = Rig(broker, ch, batch_max_rows=8)
    rig.run_until_idle()
    good = [o for o in all_offsets(broker) if o not in bad]
    assert sorted(ch.offsets(TABLE)) == good
    assert dead_letters(ch) == [(p, o, "clickhouse_violated_constraint") for p, o in sorted(bad)]
    assert broker.committed[(TOPIC, 0)] == (20, None)  # the partition moved on
    produced = {dict(h)["original_offset"]: (v, dict(h)) for _t, v, _k, h in rig.producer.produced}
    value, headers = produced[b"3"]
    assert orjson.loads(value or b"")["price"] == BAD_PRICE
    assert b"VIOLATED_CONSTRAINT" in headers["detail"]
    sample = rig.registry.get_sample_value
    reason = {"reason": "clickhouse_violated_constraint"}
    assert sample("tickwatch_load_dead_letters_total", reason) == 3
    assert sample("tickwatch_load_clickhouse_retries_total") is None or (
        sample("tickwatch_load_clickhouse_retries_total") == 0
    )
    # a piece token is derived from the batch token and the offsets of its rows
    assert any("/" in t and t.startswith(f"{TOPIC}:0:") for t in ch.tokens)


@pytest.mark.parametrize("kill_at", [1, 2, 3, 5, 8, 13])
def test_kill_during_bisection_replays_the_same_pieces_exactly_once(kill_at: int) -> None:
    broker, bad = stream({0, 5, 6, 7, 13}, n=60)
    ch = RejectingClickHouse([])
    first = Rig(broker, ch, batch_max_rows=16)
    original = ch.insert
    calls = {"n": 0}

    def die_at_a_piece(table: str, data: list[list[Any]], **kwargs: Any) -> None:
        token = kwargs["settings"]["insert_deduplication_token"]
        calls["n"] += "/" in token
        try:
            original(table, data, **kwargs)
        finally:
            if calls["n"] == kill_at:  # after the piece was accepted or rejected, before the
                raise Killed  # worker learnt which

    ch.insert = die_at_a_piece  # type: ignore[method-assign]
    with pytest.raises(Killed):
        first.run_until_idle()
    ch.insert = original  # type: ignore[method-assign]
    for i in range(60, 80):  # more arrives meanwhile: a naive replay would cut elsewhere
        broker.produce(TOPIC, i % 2, trade_value(i))
    second = Rig(broker, ch, batch_max_rows=5)
    second.run_until_idle(100)
    offsets = ch.offsets(TABLE)
    assert len(offsets) == len(set(offsets))  # no duplicates
    assert sorted(offsets) == [o for o in all_offsets(broker) if o not in bad]
    letters = dead_letters(ch)
    assert [(p, o) for p, o, _ in letters] == sorted(bad)  # each bad row once


def test_bisection_spreads_over_poll_loops_within_the_flush_budget() -> None:
    broker, bad = stream({1, 2, 4, 9, 10, 14}, n=40)
    ch = RejectingClickHouse([])
    rig = Rig(broker, ch, batch_max_rows=20, flush_budget_s=3.0)
    ch.clock = rig.clock
    longest = 0.0
    for _ in range(200):
        before = rig.clock.monotonic()
        rig.worker.step()
        longest = max(longest, rig.clock.monotonic() - before)
        rig.clock.advance(0.1)
    # one loop: the intent, inserts until the budget is spent, one more that started in time
    assert longest <= 3.0 + 1.0
    assert sorted(ch.offsets(TABLE)) == [o for o in all_offsets(broker) if o not in bad]
    assert [(p, o) for p, o, _ in dead_letters(ch)] == sorted(bad)


def test_a_statement_clickhouse_refuses_for_every_row_stops_the_worker() -> None:
    broker, _bad = stream(set(), n=10)
    ch = RejectingClickHouse([])
    ch.fatal = True
    rig = Rig(broker, ch, batch_max_rows=4)
    with pytest.raises(FatalError, match="UNKNOWN_TABLE"):
        rig.run_until_idle()
    assert ch.tables == {}
    assert all(metadata for _t, _p, _o, metadata in broker.commit_log)  # only intents


class OverloadedClickHouse(FakeClickHouse):
    """Answers every insert with TOO_MANY_PARTS until ``overloaded`` is cleared."""

    overloaded = True

    def insert(self, table: str, data: list[list[Any]], **kwargs: Any) -> None:
        if self.overloaded:
            self.attempts.append(kwargs["settings"]["insert_deduplication_token"])
            raise DatabaseError("Too many parts (3000). Merges are processing significantly "
                                "slower than inserts. (TOO_MANY_PARTS)", code=252)  # fmt: skip
        super().insert(table, data, **kwargs)


def test_overload_is_backpressure_the_partition_waits_at_least_the_servers_hint() -> None:
    from tickwatch.clickhouse_errors import OVERLOAD_RETRY_AFTER_S

    broker, _bad = stream(set(), n=10)
    ch = OverloadedClickHouse([])
    rig = Rig(broker, ch, batch_max_rows=4, retry_initial_s=0.5, retry_max_s=60.0)
    rig.worker.step()
    attempts = len(ch.attempts)
    assert attempts and rig.consumer.paused == {(TOPIC, 0), (TOPIC, 1)}
    rig.clock.advance(OVERLOAD_RETRY_AFTER_S - 0.1)  # past the backoff (0.5 s), not the hint
    rig.worker.step()
    assert len(ch.attempts) == attempts
    ch.overloaded = False
    rig.clock.advance(0.2)
    rig.run_until_idle()
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)
    assert rig.consumer.paused == set()
