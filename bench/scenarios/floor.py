"""Scenario 2c, the floor: what reading the pre-filled trades topic costs before any row exists.

Two passes over the topic the load scenario drains, each a fresh consumer group in this
process with the load worker's own consumer settings (:func:`consumer_settings`) and its
``consume(load.poll_batch)`` call:

* ``consume alone`` — the messages are counted; nothing is decoded or kept;
* ``consume + JSON decode`` — each poll's values are joined with newlines and read by pyarrow's
  JSON reader into columns, with the reader options and schema of the columnar decoder
  (:mod:`pipeline.codec.columnar`); no validation, no Kafka coordinates, the columns dropped.

Python's garbage collector is off during a pass (:func:`without_collector`): a bound is about
the cheapest consumer, and the bench process's own heap is not a consumer's cost.

Each pass measures rows/s from the first poll that brought messages to the last one (the group
join excluded), and over the same span the CPU seconds per 1M rows of this process (every thread:
librdkafka's fetch and lz4 decompression included; its main thread's share, the Python side
that calls ``consume``, beside it) and of the Kafka broker (when the bench started it). After a
pass the consumer's positions must add up to the topic's records, so an error event counted as a
message cannot pass unnoticed. What these per-row costs imply for any consumer on this machine
is arithmetic, not a measurement: :func:`bench.ratios.cpu_bound`.

Then the same for two binary encodings that are measurement candidates, not a wire contract
(:mod:`bench.wire_candidates`), each over its own topic holding the same trades in the same
partitions (:mod:`bench.candidate_topics`), decoded into the same Arrow columns:

* ``consume + per-tick binary decode`` — one message per tick (RowBinary-like, a version byte
  first), a whole poll decoded with numpy;
* ``consume + Arrow block decode`` — one Arrow IPC stream per message holding the ticks one
  ingest read gives one partition, at 10k and at 100k ticks/s (:data:`BLOCK_RATES`: the
  simulator is read every ``MIN_WAIT_S`` at those rates, its ticks spread over the run's
  partitions: 17 and 167 rows a message over 6), each message read by pyarrow's IPC reader.

Rows/s and CPU per 1M rows count rows (ticks), not messages; a block pass's positions must add
up to its topic's messages.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from confluent_kafka import Consumer

from bench import candidate_topics
from bench.candidate_topics import CandidateTopic, Encoder
from bench.context import BenchContext, ServerCpu
from bench.deadline import Deadline
from bench.errors import BenchError
from bench.figures import Figure, not_measured
from bench.wire_candidates import block_rows, decode_blocks, decode_rows
from pipeline.codec import RecordType
from pipeline.codec.columnar import read_joined
from pipeline.load.memory import budget, consumer_config
from pipeline.load_cli import CONSUMER_CONFIG, fetch_config
from pipeline.sources.simulator import MIN_WAIT_S
from tickwatch.clients import kafka_config
from tickwatch.settings import KafkaSettings, LoadSettings

NAME = "floor"
CONSUME = "consume alone"
DECODE = "consume + JSON decode"
ROWS = "consume + per-tick binary decode (candidate)"
BLOCK_RATES = (10_000, 100_000)  # ticks/s of the ingest whose reads make the blocks
CORES = "cores (sched_getaffinity)"
POLL_TIMEOUT_S = 0.5


def block_label(ticks_per_s: int) -> str:
    """The label of the Arrow block pass whose blocks an ingest at ``ticks_per_s`` makes."""
    return f"consume + Arrow block decode, {ticks_per_s // 1000}k ticks/s blocks (candidate)"


CANDIDATES = (ROWS, *(block_label(r) for r in BLOCK_RATES))


def rate_name(label: str) -> str:
    """The figure name of a pass's rows/s."""
    return f"{label}: rows/s"


def consumer_cpu_name(label: str) -> str:
    """The figure name of a pass's consumer CPU-s per 1M rows."""
    return f"{label}: consumer CPU per 1M rows"


def broker_cpu_name(label: str) -> str:
    """The figure name of a pass's broker CPU-s per 1M rows."""
    return f"{label}: broker CPU per 1M rows"


class CpuMeter(Protocol):
    def used(self) -> float | None:
        """CPU seconds since the meter was made, or None when unknown."""
        ...


class ProcessCpu:
    """CPU seconds this process (every thread) spends from now on (``time.process_time``: to
    the nanosecond, where ``/proc``'s clock ticks are 10 ms — a small pass spends less)."""

    def __init__(self) -> None:
        self._start = time.process_time()

    def used(self) -> float:
        return time.process_time() - self._start


class ThreadCpu:
    """CPU seconds the calling thread spends from now on (``time.thread_time``)."""

    def __init__(self) -> None:
        self._start = time.thread_time()

    def used(self) -> float:
        return time.thread_time() - self._start


@dataclass(frozen=True)
class Meters:
    """CPU meters started together: the consuming process (every thread), its main thread (the
    one calling ``consume``) and the broker."""

    consumer: CpuMeter
    main: CpuMeter
    broker: CpuMeter


@dataclass(frozen=True)
class PassResult:
    """One pass: ``rows`` read in ``seconds`` (after the first poll), with the CPU seconds the
    consumer, its main thread and the broker spent meanwhile (None when unknown)."""

    label: str
    rows: int
    seconds: float
    consumer_cpu_s: float | None
    broker_cpu_s: float | None
    main_thread_cpu_s: float | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def per_million(self, cpu_s: float | None) -> float | None:
        """``cpu_s`` per 1M of this pass's rows."""
        return None if cpu_s is None or self.rows <= 0 else cpu_s / (self.rows / 1e6)


def consumer_settings(
    bootstrap: str, group: str, load: LoadSettings, kafka: KafkaSettings
) -> dict[str, Any]:
    """The librdkafka settings ``tickwatch load`` builds (``pipeline.load_cli.build_worker``):
    connection, CONSUMER_CONFIG, the prefetch bounded by the memory budget, the fetch wait, and
    the group settings, for consumer group ``group``."""
    session_ms = load.session_timeout_ms
    group_conf: dict[str, str | int | bool] = {
        "group.id": group,
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": min(3000, session_ms // 3),
        "max.poll.interval.ms": load.max_poll_interval_ms,
        "auto.offset.reset": load.auto_offset_reset,
    }
    prefetch = consumer_config(budget(load))
    return kafka_config(
        kafka, bootstrap, **CONSUMER_CONFIG, **prefetch, **fetch_config(load), **group_conf
    )


def count_messages(messages: list[Any]) -> int:
    """The ``consume alone`` pass: how many came, nothing else."""
    return len(messages)


def decode_columns(messages: list[Any]) -> int:
    """The ``consume + JSON decode`` pass: the values joined and read into Arrow columns of a
    trade (the columnar decoder's schema and reader options, no validation); the row count."""
    joined = b"\n".join([m.value() for m in messages])
    return int(read_joined(joined, RecordType.TRADE).num_rows)


def decode_binary(messages: list[Any]) -> int:
    """The per-tick binary pass: a poll's values decoded into the trade's Arrow columns."""
    return int(decode_rows([m.value() for m in messages]).num_rows)


def decode_arrow_blocks(messages: list[Any]) -> int:
    """The Arrow block pass: a poll's blocks read into one table of the trade's columns."""
    return int(decode_blocks([m.value() for m in messages]).num_rows)


PASSES: tuple[tuple[str, Callable[[list[Any]], int]], ...] = (
    (CONSUME, count_messages),
    (DECODE, decode_columns),
)


@contextmanager
def without_collector() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (on again after, if it was on).

    A pass keeps nothing and makes no cycles, so the cheapest consumer never needs a collection.
    With it on, the collections that every ``Message`` (a tracked object) triggers, in the
    bench process with everything it has imported, more than doubled the consume-alone pass's
    main-thread CPU per row in back-to-back passes on the shared VM (0.9 against 0.4 s per 1M
    rows; a sixth more with the decode). The load worker raises its thresholds for the same
    reason (``pipeline.load_cli``)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def drain(
    consumer: Any,
    records: int,
    handle: Callable[[list[Any]], int],
    label: str,
    *,
    poll_batch: int,
    meters: Callable[[], Meters],
    deadline: Deadline,
    messages: int | None = None,
) -> PassResult:
    """Consume (subscribed ``consumer``) until ``handle`` has counted ``records`` rows, which
    ``messages`` messages hold (by default one each).

    The clock and the meters start after the first poll that brought messages; when that poll
    brought everything (a tiny topic) they cover the whole pass instead. Raises
    :class:`BenchError` when the rows counted differ from ``records`` or the consumer's
    positions from ``messages``, ScenarioTimeout at the deadline.
    """
    started, from_start = time.monotonic(), meters()
    first: tuple[float, int, Meters] | None = None
    count = 0
    while count < records:
        polled = consumer.consume(poll_batch, POLL_TIMEOUT_S)
        if polled:
            count += handle(polled)
            if first is None:
                first = (time.monotonic(), count, meters())
        deadline.check(f"{label}: {count:,} of {records:,} rows read")
    ended = time.monotonic()
    _check_read(consumer, records, count, label, records if messages is None else messages)
    if first is None or first[1] >= count:
        first = (started, 0, from_start)
    at, rows, measured = first
    return PassResult(
        label, count - rows, ended - at, measured.consumer.used(), measured.broker.used(),
        measured.main.used(),
    )  # fmt: skip


def _check_read(consumer: Any, records: int, count: int, label: str, messages: int) -> None:
    positions = consumer.position(consumer.assignment())
    read = sum(p.offset for p in positions if p.offset >= 0)
    if count != records or read != messages:
        raise BenchError(
            f"{label}: counted {count:,} rows, positions add up to {read:,}, "
            f"the topic holds {records:,} rows in {messages:,} messages"
        )


def figures(result: PassResult, rate_note: str = "") -> list[Figure]:
    """A pass's rows/s (``rate_note`` added to its note) and its consumer's and broker's CPU-s per
    1M rows."""
    label = result.label
    note = f"{result.rows:,} rows in {result.seconds:.2f} s{rate_note}"
    out = [Figure(NAME, rate_name(label), result.rows_per_s, "rows/s", note=note)]
    main = result.per_million(result.main_thread_cpu_s)
    split = "" if main is None else f"main thread {main:.2f} s, the rest librdkafka's threads"
    for name, cpu_s, what, about in (
        (consumer_cpu_name(label), result.consumer_cpu_s, "this process's CPU was not read",
         split),
        (broker_cpu_name(label), result.broker_cpu_s, "the bench did not start the broker", ""),
    ):  # fmt: skip
        value = result.per_million(cpu_s)
        out.append(Figure(NAME, name, value, "s", note=about) if value is not None else
                   not_measured(NAME, name, what))  # fmt: skip
    return out


@dataclass(frozen=True)
class Pass:
    """One pass to run: ``rows`` in ``messages`` messages of ``topic``, each poll to ``handle``."""

    label: str
    topic: str
    rows: int
    messages: int
    handle: Callable[[list[Any]], int]
    about: str = ""  # for the rate's note


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """The passes over the pre-filled trades topic and over the candidates' topics, and the
    cores a bound may count on."""
    topic = ctx.prefilled(deadline)
    trades, records = topic.topics.trades, topic.records
    passes = [Pass(label, trades, records, records, handle) for label, handle in PASSES]
    for label, encoder, handle in _candidates(ctx.options.partitions):
        filled = _fill(ctx, label, encoder, deadline)
        passes.append(
            Pass(label, filled.topic, filled.rows, filled.messages, handle, _sizes(filled))
        )
    busy = os.getloadavg()  # other work takes cores from every rate of the run: say how much
    out: list[Figure] = []
    for i, one in enumerate(passes):
        out.extend(figures(_measure(ctx, i, one, deadline), one.about))
    cores = len(os.sched_getaffinity(0))
    note = f"load average {busy[0]:.1f} / {busy[1]:.1f} (1 / 5 min) as the passes began"
    out.append(Figure(NAME, CORES, float(cores), "cores", display=str(cores), note=note))
    return out


def _sizes(filled: CandidateTopic) -> str:
    """Rows a message (when not one) and value bytes a row, beside JSON v1's."""
    per = filled.rows / max(filled.messages, 1)
    rows = f"; {per:,.1f} rows a message" if filled.messages != filled.rows else ""
    mine, json_v1 = (b / max(filled.rows, 1) for b in (filled.value_bytes, filled.json_bytes))
    return f"{rows}; {mine:,.0f} value bytes a row before lz4 (JSON v1: {json_v1:,.0f})"


def _candidates(partitions: int) -> list[tuple[str, Encoder, Callable[[list[Any]], int]]]:
    out: list[tuple[str, Encoder, Callable[[list[Any]], int]]] = [
        (ROWS, candidate_topics.per_tick, decode_binary)
    ]
    for rate in BLOCK_RATES:
        rows = block_rows(rate, partitions, MIN_WAIT_S)
        encoder = candidate_topics.per_block(partitions, rows)
        out.append((block_label(rate), encoder, decode_arrow_blocks))
    return out


def _fill(ctx: BenchContext, label: str, encoder: Encoder, deadline: Deadline) -> CandidateTopic:
    topics = ctx.topics(f"floor_{CANDIDATES.index(label)}")
    reference = ctx.prefilled(deadline)
    return candidate_topics.fill(
        ctx.services.bootstrap,
        topics,
        ctx.tape(),
        encoder=encoder,
        reference=reference,
        deadline=deadline,
    )


def _measure(ctx: BenchContext, i: int, one: Pass, deadline: Deadline) -> PassResult:
    """One pass in a fresh consumer group with the load worker's settings, collector off."""
    load = LoadSettings()  # the worker's defaults: the bench gives it no TICKWATCH_LOAD_*
    broker_pid = ctx.services.kafka_pid

    def meters() -> Meters:
        return Meters(ProcessCpu(), ThreadCpu(), ServerCpu(broker_pid))

    conf = consumer_settings(ctx.services.bootstrap, ctx.name(f"floor_{i}"), load, KafkaSettings())
    consumer = Consumer(conf)
    try:
        consumer.subscribe([one.topic])
        with without_collector():
            return drain(
                consumer, one.rows, one.handle, one.label, poll_batch=load.poll_batch,
                meters=meters, deadline=deadline, messages=one.messages,
            )  # fmt: skip
    finally:
        consumer.close()
