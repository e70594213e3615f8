"""The load worker's memory budget: how much every buffer may hold, derived from one setting.

``load.buffer_budget_mb`` (default 256 MB) bounds the memory of the worker's *buffers* —
everything that grows with the data, on top of the interpreter, the libraries and the clients (a
fixed ~190 MB on CPython 3.11 with pyarrow, numpy, librdkafka and the OpenTelemetry SDK loaded).
It is split:

* **prefetch** (a sixteenth, at least :data:`PREFETCH_COST` x :data:`MIN_PREFETCH_KB`):
  librdkafka's local queue of fetched, not yet polled messages and the fetch response in
  flight, bounded in bytes by :func:`consumer_config`. librdkafka counts only the payloads
  against ``queued.max.messages.kbytes``, but a queued message also holds its message and op
  structures and keeps the whole decompressed batch it points into alive, and one response of
  up to ``fetch.max.bytes`` (half the queue; ``max.partition.fetch.bytes`` half of that) is
  decoded on top: measured in the bench, 2 MB less queue (4 -> 2 MB) was ~24 MB less peak RSS
  (bench/README.md), so the queue gets the share divided by :data:`PREFETCH_COST`: 2 MB of
  payloads at the default budget, ~12k of the bench's trades or two full polls. The former
  quarter (a 64 MB queue with 32 MB fetches) held ~110 MB more at the peak.
  ``fetch.queue.backoff.ms`` (:data:`FETCH_QUEUE_BACKOFF_MS`) is librdkafka's pause after it
  found the queue full; its 1 s default left a small queue empty and the polls short (the load
  fell to half with ``queued.min.messages = 10000``, bench/README.md);
* **pending rows** (the rest): the rows held in open and sealed batches. The worker pauses
  every partition when :meth:`pipeline.load.batch.Batcher.pending` reaches
  :attr:`MemoryBudget.pending_rows` (``LoadWorker._apply_backpressure``) and resumes below
  half. One poll may add up to ``poll_batch`` rows beyond it, and each insert thread serialises
  up to ``batch_max_rows`` rows of its table once more (:func:`insert_copy_bytes`: with a thread
  per table, ``load.insert_thread_per_table``, one copy per record type can exist at once, up to
  ``load.inserts_in_flight``; with one thread, one copy): both are taken off the rows' share
  before dividing by :data:`ROW_BYTES`. ``load.max_pending_rows`` stays an upper bound (the
  smaller one wins).

With groups (``load.batch_scope = "table"``) a formed group holds, until it is done, the index
of its members' rows (:class:`pipeline.load.group_batch.GroupRows`: each row's Kafka time,
offset and partition; the Arrow chunks are the members' own, shared, never copied) and, when it
re-forms a recorded group, the rows of the members other workers own, read with the side
consumer and held nowhere else. Both count as pending rows (:meth:`GroupBatch.held_rows
<pipeline.load.group_batch.GroupBatch.held_rows>`, ``LoadWorker.pending_rows``): a side-read
row as one row, the index as :data:`GROUP_INDEX_BYTES` per row in row equivalents.

:data:`ROW_BYTES` is the memory one pending row costs, per record type (Python objects of the
column lists, the Kafka columns); ``tests/pipeline/test_load_memory.py`` measures it with
``tracemalloc`` on realistic rows and fails if a row costs more than the figure used here.

``load.buffer_budget_mb = 0`` (the default) means :data:`DEFAULT_MB`, raised to
:func:`minimum_mb` when ``batch_max_rows`` / ``poll_batch`` need more; an explicit budget that
cannot hold one full batch stops the worker at start-up (:func:`budget` raises naming the keys).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.codec import RecordType
from pipeline.errors import FatalError
from tickwatch.settings import LoadSettings

# Upper bounds of the memory one pending row holds, in bytes (measured, see the module docstring).
# Measured on 20k rows (trade 334, quote 216, bar 216); corrections, rare, take the per-message
# path and are not measured: a generous figure.
ROW_BYTES = {
    RecordType.TRADE: 400,
    RecordType.QUOTE: 300,
    RecordType.BAR: 300,
    RecordType.CORRECTION: 600,
}
# A group's own index of a row (array('q') 8 + two list slots 8 + 8, lists over-allocated);
# measured ~25 bytes, tests/pipeline/test_load_memory.py fails above this figure.
GROUP_INDEX_BYTES = 32
DEFAULT_MB = 256  # load.buffer_budget_mb = 0
# librdkafka refuses fetch.max.bytes (half the queue) below message.max.bytes (1,000,000)
MIN_PREFETCH_KB = 2048
PREFETCH_SHARE = 16  # a sixteenth of the budget: queue and fetch in flight, real memory
PREFETCH_COST = 8  # real bytes per queued payload byte, the fetch in flight included (measured)
# librdkafka's wait after it found the queue full (its default: 1 s). Only ever taken while the
# queue holds prefetch_kbytes, i.e. while the worker is behind; idle, the queue is empty.
FETCH_QUEUE_BACKOFF_MS = 20


class MemoryBudgetError(FatalError):
    """``load.buffer_budget_mb`` is too small for the batch and poll sizes; names the keys."""


@dataclass(frozen=True, slots=True)
class MemoryBudget:
    """What each buffer may hold (see the module docstring)."""

    total_bytes: int
    prefetch_kbytes: int  # librdkafka's queue, payload bytes (queued.max.messages.kbytes)
    pending_rows: int

    @property
    def prefetch_bytes(self) -> int:
        """The queue's payload bytes (what librdkafka counts)."""
        return self.prefetch_kbytes * 1024

    @property
    def prefetch_cost_bytes(self) -> int:
        """What the queue and the fetch in flight cost in memory (:data:`PREFETCH_COST`)."""
        return self.prefetch_bytes * PREFETCH_COST


def insert_copy_bytes(load: LoadSettings) -> int:
    """What the insert threads' copies of batches may hold at once: a thread per record type
    (``load.insert_thread_per_table``, at most ``load.inserts_in_flight`` busy at a time), each
    serialising a batch of its own type, else one thread and one copy of the costliest type."""
    if load.inserts_in_flight and load.insert_thread_per_table:
        costs = sorted(ROW_BYTES.values(), reverse=True)[: load.inserts_in_flight]
    else:
        costs = [max(ROW_BYTES.values())]
    return load.batch_max_rows * sum(costs)


def minimum_mb(load: LoadSettings) -> int:
    """The smallest budget that holds the prefetch, one full batch pending, the insert copies
    and one poll (the prefetch share of that budget included)."""
    row = max(ROW_BYTES.values())
    rows_bytes = (load.poll_batch + load.batch_max_rows) * row + insert_copy_bytes(load)
    share = 1 - 1 / PREFETCH_SHARE
    least = rows_bytes + MIN_PREFETCH_KB * 1024 * PREFETCH_COST
    return math.ceil(max(rows_bytes / share, least) / 2**20)


def budget(load: LoadSettings) -> MemoryBudget:
    """Split ``load.buffer_budget_mb`` (0: :data:`DEFAULT_MB` or :func:`minimum_mb`, the larger);
    raise :class:`MemoryBudgetError` when an explicit budget cannot hold the prefetch queue plus
    one full batch, one poll and the insert threads' copies of batches."""
    mb = load.buffer_budget_mb or max(DEFAULT_MB, minimum_mb(load))
    total = mb * 2**20
    prefetch_kb = max(MIN_PREFETCH_KB, total // PREFETCH_SHARE // PREFETCH_COST // 1024)
    row = max(ROW_BYTES.values())
    prefetch_cost = prefetch_kb * 1024 * PREFETCH_COST
    copies = insert_copy_bytes(load)
    rows_share = total - prefetch_cost - load.poll_batch * row - copies
    rows = rows_share // row
    if rows < load.batch_max_rows:
        need = minimum_mb(load)
        raise MemoryBudgetError(
            f"load.buffer_budget_mb = {load.buffer_budget_mb} cannot hold the librdkafka prefetch "
            f"({prefetch_cost // 1024} KB) plus one batch of "
            f"load.batch_max_rows = {load.batch_max_rows}, "
            f"one poll of load.poll_batch = {load.poll_batch} rows at {row} bytes a row and "
            f"the insert threads' copies of batches ({copies // 1024} KB: "
            f"load.inserts_in_flight = {load.inserts_in_flight}, load.insert_thread_per_table = "
            f"{load.insert_thread_per_table}): raise it to at least {need}"
        )
    return MemoryBudget(total, prefetch_kb, min(rows, load.max_pending_rows))


def consumer_config(mem: MemoryBudget) -> dict[str, str | int | bool]:
    """The librdkafka settings that keep the prefetch inside its share, in bytes: the queue's
    payloads, one fetch response (half of it) and one partition's part of a response (a
    quarter); see the module docstring. ``queued.min.messages`` stays librdkafka's (100,000
    messages): above ~40 bytes a message, the byte bound is reached first."""
    fetch = mem.prefetch_bytes // 2
    return {
        "queued.max.messages.kbytes": mem.prefetch_kbytes,
        "fetch.max.bytes": fetch,
        "max.partition.fetch.bytes": fetch // 2,
        "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS,
    }


def index_rows(rows: int, kind: RecordType) -> int:
    """A group's index of ``rows`` rows (:data:`GROUP_INDEX_BYTES` each) in pending rows of
    ``kind`` (:data:`ROW_BYTES`), rounded up."""
    return math.ceil(rows * GROUP_INDEX_BYTES / ROW_BYTES[kind])
