"""The load worker's memory budget: the per-row cost it assumes is measured, and it holds."""

from __future__ import annotations

import gc
import random
import tracemalloc
from typing import Any

import orjson
import pyarrow as pa
import pytest
from prometheus_client import CollectorRegistry

from pipeline.codec import Bar, Quote, RecordType, Trade, ValidationRules, to_wire
from pipeline.load.batch import Batcher
from pipeline.load.decode import MessageDecoder
from pipeline.load.group_batch import GroupBatch, member_ranges
from pipeline.load.memory import (
    DEFAULT_MB,
    FETCH_QUEUE_BACKOFF_MS,
    GROUP_INDEX_BYTES,
    MIN_PREFETCH_KB,
    PREFETCH_COST,
    PREFETCH_SHARE,
    ROW_BYTES,
    MemoryBudgetError,
    budget,
    consumer_config,
    insert_copy_bytes,
    minimum_mb,
)
from tests.pipeline.test_load_worker import (
    NOW_US,
    TABLE,
    TOPIC,
    FakeBroker,
    FakeClickHouse,
    FakeMessage,
    Rig,
    all_offsets,
    trade_value,
)
from tickwatch.clock import ManualClock
from tickwatch.settings import LoadSettings
from tickwatch.telemetry.catalog import LoadMetrics

ROWS = 20_000
SYMBOLS = [f"SYM{i}" for i in range(50)]


def _trade(i: int, rnd: random.Random) -> bytes:
    trade = Trade(
        rnd.choice(SYMBOLS), NOW_US + i, round(rnd.uniform(10, 900), 2), float(rnd.randint(1, 900)),
        exchange="XNYS", trade_id=f"T{i:012d}", conditions=("@", "I"),
    )  # fmt: skip
    return orjson.dumps(to_wire(trade))


def _quote(i: int, rnd: random.Random) -> bytes:
    bid = round(rnd.uniform(10, 900), 2)
    quote = Quote(
        rnd.choice(SYMBOLS),
        NOW_US + i,
        bid,
        bid + 0.01,
        100.0,
        200.0,
        bid_exchange="XNAS",
        ask_exchange="XNYS",
    )
    return orjson.dumps(to_wire(quote))


def _bar(i: int, rnd: random.Random) -> bytes:
    o = round(rnd.uniform(10, 900), 2)
    bar = Bar(
        rnd.choice(SYMBOLS), NOW_US + i * 60_000_000, 60, o, o + 1.0, o - 1.0, o + 0.5,
        float(rnd.randint(1, 10**6)), o + 0.25, rnd.randint(1, 5000),
    )  # fmt: skip
    return orjson.dumps(to_wire(bar))


KINDS = [(RecordType.TRADE, _trade), (RecordType.QUOTE, _quote), (RecordType.BAR, _bar)]


@pytest.mark.parametrize(("kind", "make"), KINDS)
def test_a_pending_row_costs_at_most_the_budgeted_bytes(kind: RecordType, make: object) -> None:
    """Decode ``ROWS`` realistic messages through the worker's decode step into batches (all
    distinct prices, sizes and trade ids: the worst case for interning) and hold them: the
    memory still allocated per row, after the poll's own buffers are gone, is within ROW_BYTES:
    Python objects (tracemalloc) plus Arrow buffers (pyarrow's memory pool), which tracemalloc
    does not see."""
    rnd = random.Random(7)
    topic = "t"
    values = [make(i, rnd) for i in range(ROWS)]  # type: ignore[operator]
    messages = [FakeMessage(topic, i % 6, i // 6, v) for i, v in enumerate(values)]
    clock = ManualClock(NOW_US / 1e6)
    settings = LoadSettings()
    decoder = MessageDecoder(
        {topic: kind}, ValidationRules.from_settings(settings), clock,
        LoadMetrics(CollectorRegistry()),
    )  # fmt: skip
    batcher = Batcher(ROWS, 60_000, clock)
    # the first decode of a whole poll imports modules and fills caches (the columnar reader's,
    # pyarrow compute's kernels): not rows' memory, so a warm-up poll of its own goes first
    # (with one message only, a first case run alone counted them: ~1,300 bytes a trade row)
    warm = Batcher(ROWS, 60_000, clock)
    warm.assign((topic, 99), kind, None, 0)
    # (other rows than the measured ones: nothing they cache is shared with them)
    warm_rnd = random.Random(8)
    warm_values = [make(ROWS + i, warm_rnd) for i in range(5_000)]  # type: ignore[operator]
    decoder.add([FakeMessage(topic, 99, i, v) for i, v in enumerate(warm_values)], warm)  # type: ignore[misc]
    del warm
    for p in range(6):
        batcher.assign((topic, p), kind, None, 0)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0] + pa.total_allocated_bytes()
        for lo in range(0, ROWS, 5_000):
            decoder.add(messages[lo : lo + 5_000], batcher)  # type: ignore[arg-type]
        for state in batcher.partitions.values():
            assert state.open is not None
            assert state.open.rows.nbytes() > 0  # settles every row into its chunks
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] + pa.total_allocated_bytes() - before
    finally:
        tracemalloc.stop()
    assert batcher.pending() == ROWS
    per_row = held / ROWS
    print(f"{kind.value}: {per_row:.0f} bytes per pending row")
    assert per_row <= ROW_BYTES[kind]


def test_a_group_shares_its_members_arrow_rows_and_its_index_costs_at_most_the_budget() -> None:
    """A group of six members' batches (``ROWS`` decoded trades) copies no Arrow buffer — its
    chunks are the members' very arrays — and its own index (Kafka time, offset, partition of
    every row) costs at most GROUP_INDEX_BYTES a row, the figure the pending rows count."""
    rnd = random.Random(7)
    topic, kind = "t", RecordType.TRADE
    messages = [FakeMessage(topic, i % 6, i // 6, _trade(i, rnd)) for i in range(ROWS)]
    clock = ManualClock(NOW_US / 1e6)
    decoder = MessageDecoder(
        {topic: kind}, ValidationRules.from_settings(LoadSettings()), clock,
        LoadMetrics(CollectorRegistry()),
    )  # fmt: skip
    batcher = Batcher(ROWS, 60_000, clock)
    for p in range(6):
        batcher.assign((topic, p), kind, None, 0)
    decoder.add(messages, batcher)  # type: ignore[arg-type]
    members = [s.open for s in batcher.partitions.values() if s.open is not None]
    for member in members:
        member.rows.nbytes()  # settles the members' rows into their chunks first
    gc.collect()
    tracemalloc.start()
    try:
        before, arrow_before = tracemalloc.get_traced_memory()[0], pa.total_allocated_bytes()
        group = GroupBatch(members, member_ranges(members))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        arrow = pa.total_allocated_bytes() - arrow_before
    finally:
        tracemalloc.stop()
    assert len(group.rows) == ROWS
    shared = {id(c) for m in members for chunk in m.rows.chunks for c in chunk}
    assert all(id(c) in shared for chunk in group.rows.chunks for c in chunk)
    assert arrow == 0  # no Arrow buffer copied
    print(f"group index: {held / ROWS:.1f} bytes per row")
    assert held / ROWS <= GROUP_INDEX_BYTES


def test_budget_splits_prefetch_and_rows_and_caps_max_pending_rows() -> None:
    mem = budget(LoadSettings(buffer_budget_mb=128))
    assert mem.prefetch_kbytes == MIN_PREFETCH_KB  # 128 MB / 16 / 8 is the minimum
    row = max(ROW_BYTES.values())
    settings = LoadSettings(buffer_budget_mb=128)
    spent = (
        mem.prefetch_cost_bytes
        + (mem.pending_rows + settings.poll_batch) * row
        + insert_copy_bytes(settings)
    )
    assert spent <= mem.total_bytes
    assert mem.pending_rows >= settings.batch_max_rows
    assert budget(LoadSettings(buffer_budget_mb=4096, max_pending_rows=1000, batch_max_rows=500))
    assert (
        budget(
            LoadSettings(buffer_budget_mb=4096, max_pending_rows=1000, batch_max_rows=500)
        ).pending_rows
        == 1000
    )
    config = consumer_config(mem)
    assert config["queued.max.messages.kbytes"] == mem.prefetch_kbytes
    assert int(config["fetch.max.bytes"]) <= mem.prefetch_bytes


def test_every_insert_thread_that_can_run_at_once_has_its_copy_reserved() -> None:
    # a thread per table serialises a batch of its own type while the others serialise theirs
    one = LoadSettings(buffer_budget_mb=256, insert_thread_per_table=False)
    per_table = one.model_copy(update={"insert_thread_per_table": True})
    costs = sorted(ROW_BYTES.values(), reverse=True)
    assert insert_copy_bytes(one) == one.batch_max_rows * costs[0]
    assert insert_copy_bytes(per_table) == per_table.batch_max_rows * sum(costs)
    two = per_table.model_copy(update={"inserts_in_flight": 2})  # at most two busy at a time
    assert insert_copy_bytes(two) == two.batch_max_rows * sum(costs[:2])
    synchronous = per_table.model_copy(update={"inserts_in_flight": 0})  # the loop inserts
    assert insert_copy_bytes(synchronous) == insert_copy_bytes(one)
    row = max(ROW_BYTES.values())
    fewer = (insert_copy_bytes(per_table) - insert_copy_bytes(one)) // row
    assert budget(one).pending_rows - budget(per_table).pending_rows in (fewer, fewer + 1)
    assert minimum_mb(per_table) > minimum_mb(one)
    fits_one = one.model_copy(update={"buffer_budget_mb": minimum_mb(one)})
    assert budget(fits_one).pending_rows >= one.batch_max_rows
    with pytest.raises(MemoryBudgetError, match=r"load\.insert_thread_per_table = True"):
        budget(fits_one.model_copy(update={"insert_thread_per_table": True}))


@pytest.mark.parametrize(
    ("budget_mb", "queue_kb"), [(0, 2048), (256, 2048), (1024, 8192), (4096, 32_768)]
)
def test_the_librdkafka_prefetch_is_bounded_in_bytes_from_the_budget(
    budget_mb: int, queue_kb: int
) -> None:
    """A sixteenth of the budget pays for the queue at PREFETCH_COST bytes a payload byte;
    one response is half the queue, one partition's part a quarter; a full queue pauses a
    partition's fetches for FETCH_QUEUE_BACKOFF_MS, not librdkafka's second."""
    mem = budget(LoadSettings(buffer_budget_mb=budget_mb))
    config = consumer_config(mem)
    assert config == {
        "queued.max.messages.kbytes": queue_kb,
        "fetch.max.bytes": queue_kb * 1024 // 2,
        "max.partition.fetch.bytes": queue_kb * 1024 // 4,
        "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS,
    }
    assert mem.prefetch_cost_bytes == queue_kb * 1024 * PREFETCH_COST
    assert mem.prefetch_cost_bytes <= max(mem.total_bytes // PREFETCH_SHARE, 16 * 2**20)
    assert int(config["fetch.max.bytes"]) >= 1_000_000  # librdkafka: >= message.max.bytes


def test_a_budget_too_small_for_the_prefetch_cost_is_refused() -> None:
    """The prefetch is charged at its memory cost, not at what librdkafka counts."""
    load = LoadSettings(batch_max_rows=1, poll_batch=1)
    assert minimum_mb(load) * 2**20 >= MIN_PREFETCH_KB * 1024 * PREFETCH_COST
    with pytest.raises(MemoryBudgetError, match=r"prefetch \(16384 KB\)"):
        budget(load.model_copy(update={"buffer_budget_mb": 16}))


def test_a_budget_that_cannot_hold_one_batch_is_refused_naming_the_keys() -> None:
    with pytest.raises(
        MemoryBudgetError, match=r"load\.buffer_budget_mb = 8 .*load\.batch_max_rows"
    ):
        budget(LoadSettings(buffer_budget_mb=8, batch_max_rows=50_000))


@pytest.mark.parametrize(
    ("batch_max_rows", "poll_batch"), [(50_000, 5_000), (100_000, 5_000), (500, 1_000), (1, 1)]
)
def test_the_default_budget_is_256_mb_or_what_one_batch_needs(
    batch_max_rows: int, poll_batch: int
) -> None:
    load = LoadSettings(batch_max_rows=batch_max_rows, poll_batch=poll_batch)
    mem = budget(load)  # buffer_budget_mb = 0: never refused
    assert mem.total_bytes == max(DEFAULT_MB, minimum_mb(load)) * 2**20
    assert mem.pending_rows >= min(batch_max_rows, load.max_pending_rows)
    explicit = LoadSettings(
        batch_max_rows=batch_max_rows, poll_batch=poll_batch, buffer_budget_mb=minimum_mb(load)
    )
    assert budget(explicit).pending_rows >= batch_max_rows  # the minimum is enough


class SlowClickHouse(FakeClickHouse):
    """Every insert takes a second of the worker's clock: one batch per poll loop at most."""

    rig: Rig

    def insert(self, table: str, data: list[list[Any]], **kwargs: Any) -> None:
        self.rig.clock.advance(1.0)
        super().insert(table, data, **kwargs)


def test_worker_holds_no_more_rows_than_the_budget_allows_when_inserts_lag() -> None:
    """Inserts are slower than Kafka (one 500-row batch per loop, 1,000 rows polled): the worker
    pauses every partition once the pending rows reach the budget's share, one poll's overshoot
    at most, resumes below half, and every row lands once."""
    broker = FakeBroker()
    for i in range(12_000):
        broker.produce(TOPIC, i % 3, trade_value(i))
    ch = SlowClickHouse([])
    settings = {"buffer_budget_mb": 20, "batch_max_rows": 500, "poll_batch": 1_000}
    rig = Rig(broker, ch, flush_budget_s=0.5, **settings)
    ch.rig = rig
    cap = rig.worker.memory.pending_rows
    assert cap == budget(LoadSettings(inserts_in_flight=0, **settings)).pending_rows  # the rig's
    assert 0 < cap < 12_000
    peak, paused = 0, False
    for _ in range(400):
        rig.worker.step()
        peak = max(peak, rig.worker.batcher.pending())
        paused |= rig.consumer.paused == {(TOPIC, 0), (TOPIC, 1), (TOPIC, 2)}
        assert rig.worker.batcher.pending() <= cap + 1_000
    assert paused and peak >= cap
    assert sorted(ch.offsets(TABLE)) == all_offsets(broker)


def test_reaching_the_budget_seals_the_open_batches_instead_of_waiting_for_their_age() -> None:
    """The budget is reached while every partition's batch is still open (below batch_max_rows):
    every partition is paused and the open batches are sealed at once, so the next loops insert
    them instead of idling until their age limit (never, on this clock that does not move)."""
    broker = FakeBroker()
    for i in range(6_000):
        broker.produce(TOPIC, i % 3, trade_value(i))
    ch = FakeClickHouse([])
    settings = {"buffer_budget_mb": 20, "batch_max_rows": 2_500, "poll_batch": 1_000}
    rig = Rig(broker, ch, batch_max_ms=600_000, batch_backlog_max_ms=600_000, **settings)
    cap = rig.worker.memory.pending_rows
    assert settings["batch_max_rows"] <= cap < 3 * settings["batch_max_rows"]
    for _ in range(20):
        rig.worker.step()
    assert len(ch.offsets(TABLE)) >= cap  # without the seal: 0, every partition paused for good


class CyclicInsertContext:
    """Like clickhouse-connect's InsertContext: a reference cycle (a bound method of itself)
    that keeps the data it was given until the cyclic garbage collector runs."""

    def __init__(self, data: list[list[Any]]) -> None:
        self.data = data
        self.next_block = self.blocks

    def blocks(self) -> list[list[Any]]:
        return self.data


class CycleKeepingClickHouse(FakeClickHouse):
    contexts: list[CyclicInsertContext]

    def insert(self, table: str, data: list[list[Any]], **kwargs: Any) -> None:
        if table != TABLE:  # the writer's own lists (dead letters), not the fake's decoded rows
            self.contexts.append(CyclicInsertContext(data))
        super().insert(table, data, **kwargs)


def test_an_inserted_batch_is_not_kept_alive_by_the_clients_reference_cycles() -> None:
    """Regression: the client's insert context (a cycle, collected only by a full gc run, rare
    with the worker's gc thresholds) held every inserted batch's columns: 1 GB over 2M rows.
    Rows now go as an Arrow stream (``raw_insert``: a buffer, no insert context); the dead
    letters still go as column lists through ``insert``, and the writer empties the list it
    passed, so a surviving context holds nothing."""
    broker = FakeBroker()
    for i in range(10):
        broker.produce(TOPIC, i % 2, trade_value(i, price=-1.0 if i % 3 == 0 else 1.0 + i))
    ch = CycleKeepingClickHouse([])
    ch.contexts = []
    rig = Rig(broker, ch)
    gc.disable()
    try:
        rig.run_until_idle()
        assert ch.contexts
        assert all(context.data == [] for context in ch.contexts)
    finally:
        gc.enable()
    letters = sum(len(r) for t, r in ch.tables.items() if t != TABLE)
    assert letters == 4 and len(ch.offsets(TABLE)) == 6
