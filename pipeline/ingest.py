"""The ingest worker: read a source, stamp ``recv_ts``, produce to Kafka, flush on the way out.

Order of operations on shutdown (SIGTERM, ``duration_s`` reached, or the source ended): stop
reading the source, close it, then flush the producer. The whole shutdown is bounded by
``flush_timeout_s`` counted from the stop request (a send blocked on a full queue gives up when
it runs out, the flush gets what is left); whatever is still queued then is logged and reported
in :class:`IngestResult`, never dropped silently.

Checkpoints (sources that implement :class:`~pipeline.sources.checkpoint.CheckpointedSource`:
replay and the live vendors): every ``checkpoint_interval_s``, between two batches, the worker
flushes the producer and — only if every record enqueued so far has a delivery report and none
failed — calls ``source.checkpoint()``. Once more after the final flush, on the same condition.
So a checkpoint never claims a record Kafka does not hold; after a crash the source resumes at
the last checkpoint (what it re-sends is at most one interval's worth, see that module).

The low-rate hold (:mod:`pipeline.ingest_hold`, ``ingest.hold_below_rate`` / ``hold_ms``):
while the source is quiet a read may be kept before it reaches the producer. Whatever is kept
is handed to the producer before every checkpoint's flush and before the final flush, so both
orders above hold with "enqueued" meaning "read": a checkpoint still covers only records Kafka
acknowledged, and a stop loses nothing the source handed over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from loguru import logger
from opentelemetry import trace

from pipeline.codec import Payload
from pipeline.codec.batch import symbol_counts
from pipeline.errors import FatalError
from pipeline.ingest_hold import HeldRead, LowRateHold
from pipeline.producer import TickProducer
from pipeline.sources.base import Source
from pipeline.sources.checkpoint import CheckpointedSource
from tickwatch.clock import SYSTEM_CLOCK, Clock
from tickwatch.deadline import Deadline
from tickwatch.telemetry.catalog import IngestMetrics
from tickwatch.telemetry.tracing import work_span

tracer = trace.get_tracer("tickwatch.ingest")
IDLE_POLL_S = 0.5


@dataclass(frozen=True)
class IngestResult:
    """What a run did: records read and enqueued, delivered, failed, left after the flush."""

    read: int
    enqueued: int
    delivered: int
    failed: int
    undelivered: int

    @property
    def clean(self) -> bool:
        """Everything read was delivered."""
        return self.failed == 0 and self.undelivered == 0 and self.enqueued == self.read


class IngestWorker:
    """Moves one source's batches into a :class:`TickProducer` until stopped.

    ``count_source_messages``: the worker counts ``tickwatch_source_messages_total`` for
    sources that do not count their own (the simulator and replay files). ``hold``: the
    low-rate hold (none: every read goes to the producer at once).
    """

    def __init__(
        self,
        source: Source,
        producer: TickProducer,
        metrics: IngestMetrics,
        *,
        flush_timeout_s: float,
        duration_s: float = 0.0,
        count_source_messages: bool = True,
        clock: Clock = SYSTEM_CLOCK,
        checkpoint_interval_s: float = 1.0,
        hold: LowRateHold | None = None,
    ) -> None:
        self._source, self._producer, self._metrics = source, producer, metrics
        self._flush_timeout_s = flush_timeout_s
        self._duration_s = duration_s
        self._count_messages = count_source_messages
        self._clock = clock
        self._stop = asyncio.Event()
        self._shutdown: Deadline | None = None  # started when the stop is asked for
        self._read = 0
        self._enqueued = 0
        self._checkpoint_interval_s = checkpoint_interval_s
        self._last_checkpoint = self._clock.monotonic()
        # once: a runtime Protocol check costs tens of µs, and it ran after every batch
        self._checkpointed = isinstance(source, CheckpointedSource)
        self._hold = hold if hold is not None else LowRateHold(0, 0, 0, clock)

    def request_stop(self) -> None:
        """Ask the run to end; call it on the event loop (``call_soon_threadsafe`` elsewhere)."""
        self._stopping()
        self._stop.set()

    def _stopping(self) -> None:
        if self._shutdown is None:
            self._shutdown = Deadline(self._flush_timeout_s, self._clock)

    def request_stop_from_signal(self, loop: asyncio.AbstractEventLoop) -> None:
        """For a ``signal.signal`` handler: also seen by a send blocked on a full queue."""
        self._stopping()
        loop.call_soon_threadsafe(self._stop.set)

    def _give_up_enqueueing(self) -> bool:
        """True once a stop was requested ``flush_timeout_s`` ago (broker away, queue full).

        Together with :meth:`_flush_budget_s` this bounds the whole shutdown by that timeout.
        """
        return self._shutdown is not None and self._shutdown.expired()

    async def run(self) -> IngestResult:
        """Run until stopped, the duration passed or the source ended; then flush.

        Raises :class:`~pipeline.errors.FatalError` if the producer hit a fatal error; source
        errors propagate after the producer was flushed.
        """
        batches = aiter(self._source.batches())
        stopper: asyncio.Future[Any] = asyncio.ensure_future(self._stop.wait())
        if self._duration_s > 0:
            asyncio.get_running_loop().call_later(self._duration_s, self.request_stop)
        try:
            while (batch := await self._next(batches, stopper)) is not None:
                self._handle(batch)
                self._maybe_checkpoint()
        finally:
            stopper.cancel()
            await self._source.aclose()
            result = self._flush()
            if result.failed == 0 and result.undelivered == 0:
                self._checkpoint()
        return result

    def _maybe_checkpoint(self) -> None:
        """Checkpoint if the interval passed and everything enqueued is delivered.

        Order: hand what the hold keeps to the producer → flush the producer (bounded by
        ``flush_timeout_s``) → if nothing is left and
        nothing failed, ``source.checkpoint()``; otherwise try again after the next batch.
        """
        if not self._checkpointed:
            return
        if self._clock.monotonic() - self._last_checkpoint < self._checkpoint_interval_s:
            return
        self._release(self._hold.take())  # a checkpoint covers every read so far
        if self._producer.flush(self._flush_timeout_s) == 0 and self._producer.failed == 0:
            self._checkpoint()

    def _checkpoint(self) -> None:
        if self._checkpointed and isinstance(self._source, CheckpointedSource):
            self._source.checkpoint()
            self._last_checkpoint = self._clock.monotonic()

    async def _next(
        self, batches: AsyncIterator[Sequence[Payload]], stopper: asyncio.Future[Any]
    ) -> Sequence[Payload] | None:
        if self._stop.is_set():
            return None
        with work_span(tracer, "ingest.source_read") as span:  # none for a read that got nothing
            read: asyncio.Future[Any] = asyncio.ensure_future(anext(batches, None))
            done: set[asyncio.Future[Any]] = set()
            while not done:  # serve delivery reports while a quiet source keeps us waiting
                due = self._hold.due_in()
                done, _ = await asyncio.wait(
                    {read, stopper},
                    timeout=IDLE_POLL_S if due is None else min(IDLE_POLL_S, due),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                self._send(self._hold.take_due())  # the fatal check follows the next read
                self._producer.poll(0)
            if not read.done():
                read.cancel()
                return None
            batch: Sequence[Payload] | None = read.result()
            span.set_attribute("tickwatch.records", len(batch) if batch else 0)
            if batch:
                span.worked()
        return batch

    def _handle(self, batch: Sequence[Payload]) -> None:
        now = self._clock.time()
        name = self._source.name
        self._read += len(batch)
        if self._count_messages:
            self._metrics.source_message(name, len(batch))
        self._metrics.source_record_seen(name, now)
        for symbol, n in symbol_counts(batch).items():  # per batch: counted per block
            self._metrics.symbol_record(symbol, now, n)
        read = HeldRead(batch, int(now * 1e6))
        self._release(self._hold.offer(read, self._producer.queued))

    def _release(self, reads: list[HeldRead]) -> None:
        """Hand ``reads`` to the producer in order (each with its own ``recv_ts``); raises
        FatalError if the producer failed fatally."""
        self._send(reads)
        self._producer.poll(0)
        if self._producer.fatal:
            raise FatalError(f"Kafka producer failed fatally: {self._producer.fatal}")

    def _send(self, reads: list[HeldRead]) -> None:
        for read in reads:
            give_up = self._give_up_enqueueing
            self._enqueued += self._producer.send(read.items, read.recv_ts, give_up)
        self._metrics.held_records(self._hold.held_records)

    def _flush_budget_s(self) -> float:
        """What is left of ``flush_timeout_s`` since the stop was requested (all of it if none)."""
        if self._shutdown is None:
            return self._flush_timeout_s
        return self._shutdown.remaining()

    def _flush(self) -> IngestResult:
        """Hand what the hold keeps to the producer, then flush it (what is left of the budget)."""
        with tracer.start_as_current_span("ingest.flush") as span:
            if self._hold.held_records:
                logger.info("handing {} held records to the producer", self._hold.held_records)
            self._send(self._hold.take())
            undelivered = self._producer.flush(self._flush_budget_s())
            span.set_attribute("tickwatch.undelivered", undelivered)
        if undelivered:
            logger.error("{} records not delivered within {} s", undelivered, self._flush_timeout_s)
        p = self._producer
        result = IngestResult(self._read, self._enqueued, p.delivered, p.failed, undelivered)
        logger.info("ingest stopped: {}", result)
        return result
