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

from bench.context import BenchContext, ServerCpu
from bench.deadline import Deadline
from bench.errors import BenchError
from bench.figures import Figure, not_measured
from pipeline.codec import RecordType
from pipeline.codec.columnar import read_joined
from pipeline.load.memory import budget, consumer_config
from pipeline.load_cli import CONSUMER_CONFIG, fetch_config
from tickwatch.clients import kafka_config
from tickwatch.settings import KafkaSettings, LoadSettings

NAME = "floor"
CONSUME = "consume alone"
DECODE = "consume + JSON decode"
CORES = "cores (sched_getaffinity)"
POLL_TIMEOUT_S = 0.5


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
) -> PassResult:
    """Consume (subscribed ``consumer``) until ``handle`` has counted ``records`` rows.

    The clock and the meters start after the first poll that brought messages; when that poll
    brought everything (a tiny topic) they cover the whole pass instead. Raises
    :class:`BenchError` when the rows counted or the consumer's positions differ from
    ``records``, ScenarioTimeout at the deadline.
    """
    started, from_start = time.monotonic(), meters()
    first: tuple[float, int, Meters] | None = None
    count = 0
    while count < records:
        messages = consumer.consume(poll_batch, POLL_TIMEOUT_S)
        if messages:
            count += handle(messages)
            if first is None:
                first = (time.monotonic(), count, meters())
        deadline.check(f"{label}: {count:,} of {records:,} rows read")
    ended = time.monotonic()
    _check_read(consumer, records, count, label)
    if first is None or first[1] >= count:
        first = (started, 0, from_start)
    at, rows, measured = first
    return PassResult(
        label, count - rows, ended - at, measured.consumer.used(), measured.broker.used(),
        measured.main.used(),
    )  # fmt: skip


def _check_read(consumer: Any, records: int, count: int, label: str) -> None:
    positions = consumer.position(consumer.assignment())
    read = sum(p.offset for p in positions if p.offset >= 0)
    if count != records or read != records:
        raise BenchError(
            f"{label}: counted {count:,} rows, positions add up to {read:,}, "
            f"the topic holds {records:,}"
        )


def figures(result: PassResult) -> list[Figure]:
    """A pass's rows/s and its consumer's and broker's CPU-s per 1M rows."""
    label = result.label
    note = f"{result.rows:,} rows in {result.seconds:.2f} s"
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


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """Both passes over the pre-filled trades topic, and the cores a bound may count on."""
    topic = ctx.prefilled(deadline)
    busy = os.getloadavg()  # other work takes cores from every rate of the run: say how much
    load = LoadSettings()  # the worker's defaults: the bench gives it no TICKWATCH_LOAD_*
    broker_pid = ctx.services.kafka_pid

    def meters() -> Meters:
        return Meters(ProcessCpu(), ThreadCpu(), ServerCpu(broker_pid))

    out: list[Figure] = []
    for i, (label, handle) in enumerate(PASSES):
        group = ctx.name(f"floor_{i}")
        conf = consumer_settings(ctx.services.bootstrap, group, load, KafkaSettings())
        consumer = Consumer(conf)
        try:
            consumer.subscribe([topic.topics.trades])
            with without_collector():
                result = drain(
                    consumer, topic.records, handle, label,
                    poll_batch=load.poll_batch, meters=meters, deadline=deadline,
                )  # fmt: skip
        finally:
            consumer.close()
        out.extend(figures(result))
    cores = len(os.sched_getaffinity(0))
    note = f"load average {busy[0]:.1f} / {busy[1]:.1f} (1 / 5 min) as the passes began"
    out.append(Figure(NAME, CORES, float(cores), "cores", display=str(cores), note=note))
    return out
