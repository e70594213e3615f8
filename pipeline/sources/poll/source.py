"""A polling source: every ``interval_s`` ask the vendor, hand out only what is new.

Lifecycle of :meth:`PollingSource.batches`:

1. one poll = the vendor's requests in order (:meth:`PollVendor.requests`); each answer is parsed
   into records; a malformed answer (bad JSON, a missing or mistyped field, another 4xx) is
   logged naming the request and the field, counted (``tickwatch_source_poll_errors_total``
   reason ``malformed``) and skipped — the rest of the poll goes on;
2. the records pass :func:`~pipeline.sources.poll.novelty.new_records` (closed bars, quotes and
   trades above the watermarks, trade ids through the ledger); repeats are counted per type
   (``tickwatch_source_repeats_skipped_total``), forming bars as ``bar_not_closed`` drops; what is
   new is yielded as one batch;
3. a 429, 5xx, timeout or connection error ends the poll (what it got so far is still yielded),
   is logged and counted by reason, and the next poll waits ``max(Retry-After, backoff delay)``
   instead of ``interval_s``; a successful poll resets the backoff;
4. HTTP 401/403 raises :class:`~pipeline.sources.poll.errors.PollAuthError` (counted as an auth
   failure): no retry storm;
5. the iterator ends at the run deadline (``ingest.duration_s`` > 0) or after :meth:`aclose`.

Polls are counted by outcome (``tickwatch_source_polls_total``: ``ok``, ``partial`` when a
request was malformed, ``failed`` when a transient failure ended it).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncGenerator, Callable, Sequence

import httpx
from loguru import logger

from pipeline.codec import Record
from pipeline.sources.live.ledger_recovery import read_back, recover_since_ms
from pipeline.sources.live.session import BAR_NOT_CLOSED
from pipeline.sources.live.trade_ledger import TradeLedger
from pipeline.sources.poll.errors import MalformedResponse, PollAuthError
from pipeline.sources.poll.http import Request, Transient, fetch
from pipeline.sources.poll.novelty import new_records
from pipeline.sources.poll.state import PollState
from pipeline.sources.poll.vendor import PollVendor
from tickwatch.backoff import Attempts, Backoff
from tickwatch.clock import Clock, SystemClock, micros
from tickwatch.settings import KafkaSettings
from tickwatch.telemetry.catalog import IngestMetrics

WAIT_STEP_S = 0.25  # how often a wait between polls looks at aclose()


class PollingSource:
    """A :class:`~pipeline.sources.base.Source` over one vendor's REST API."""

    def __init__(
        self,
        vendor: PollVendor,
        metrics: IngestMetrics,
        *,
        interval_s: float,
        timeout_s: float,
        backoff: Backoff,
        state: PollState,
        ledger: TradeLedger,
        duration_s: float = 0.0,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        tls: ssl.SSLContext | bool = True,
    ) -> None:
        self.name = vendor.name
        self.state, self.ledger = state, ledger
        self._vendor, self._metrics = vendor, metrics
        self._interval_s, self._timeout_s, self._duration_s = interval_s, timeout_s, duration_s
        self._attempts = Attempts(backoff)
        self._clock = clock or SystemClock()
        self._transport, self._tls = transport, tls
        self._closed = False

    async def batches(self) -> AsyncGenerator[Sequence[Record]]:
        """New records, one batch per poll; raises PollAuthError."""
        deadline = self._clock.monotonic() + self._duration_s if self._duration_s > 0 else None
        async with httpx.AsyncClient(
            timeout=self._timeout_s, transport=self._transport, verify=self._tls, trust_env=False
        ) as client:
            while not self._closed and not self._expired(deadline):
                records, failure = await self._poll(client)
                fresh = self._new(records)
                if fresh:
                    yield fresh
                await self._wait(self._delay(failure), deadline)

    def checkpoint(self) -> None:
        """Persist the watermarks and the trade ledger (all yielded so far is in Kafka)."""
        self.state.checkpoint()
        self.ledger.checkpoint()

    def recover(self, kafka: KafkaSettings, bootstrap: str, window_s: float) -> int:
        """Before polling: raise the watermarks (and ledger) from what Kafka got since the last
        checkpoint, read back from the trades, quotes and bars topics. Raises KafkaException."""
        source = self._vendor.record_source
        since_ms = recover_since_ms(self.state.path, window_s, self._clock.time())
        group = f"tickwatch-poll-{self.name}"

        def visit(body: dict[str, object]) -> int:
            if body.get("type") == "trade" and body.get("source") == source:
                self.ledger.remember_wire(body)
            return self.state.remember_wire(body, source)

        found = sum(
            read_back(kafka, bootstrap, topic, since_ms=since_ms, group_id=group, visit=visit)
            for topic in (kafka.topic_trades, kafka.topic_quotes, kafka.topic_bars)
        )
        logger.info(
            "{}: {} watermarks raised from Kafka since the last checkpoint", self.name, found
        )
        return found

    async def aclose(self) -> None:
        """Stop: ``batches()`` ends after the request in flight."""
        self._closed = True

    async def _poll(self, client: httpx.AsyncClient) -> tuple[list[Record], Transient | None]:
        records: list[Record] = []
        malformed = False
        for request in self._vendor.requests():
            try:
                records += await self._ask(client, request)
            except MalformedResponse as exc:
                logger.error("{}: malformed answer, skipped: {}", self.name, exc)
                self._metrics.source_poll_error(self.name, "malformed")
                malformed = True
            except _TransientFailure as failure:
                self._metrics.source_poll(self.name, "failed")
                return records, failure.transient
        self._metrics.source_poll(self.name, "partial" if malformed else "ok")
        return records, None

    async def _ask(self, client: httpx.AsyncClient, request: Request) -> list[Record]:
        vendor = self._vendor
        try:
            outcome = await fetch(
                client, request, source=self.name, credential=vendor.credential, clock=self._clock
            )
        except PollAuthError:
            self._metrics.source_poll_error(self.name, "auth")
            self._metrics.source_auth_failure(self.name)
            raise
        if isinstance(outcome, Transient):
            self._metrics.source_poll_error(self.name, outcome.reason)
            raise _TransientFailure(outcome)
        parsed = vendor.parse(outcome, request, micros(self._clock.time()))
        self._metrics.source_message(self.name, parsed.messages)
        return parsed.records

    def _new(self, records: list[Record]) -> list[Record]:
        novelty = new_records(records, self.state, self.ledger, micros(self._clock.time()))
        for kind, n in novelty.repeats.items():
            self._metrics.source_repeats_skipped(self.name, kind, n)
        if novelty.forming:
            self._metrics.source_dropped(self.name, BAR_NOT_CLOSED, novelty.forming)
        if novelty.records:
            self._metrics.source_record_seen(self.name, self._clock.time())
        return novelty.records

    def _delay(self, failure: Transient | None) -> float:
        if failure is None:
            self._attempts.reset()
            return self._interval_s
        delay = max(failure.retry_after_s, self._attempts.next_delay())
        logger.warning(
            "{source}: {problem}; poll #{attempt} of the backoff in {delay:.2f}s",
            source=self.name, problem=failure.problem, attempt=self._attempts.attempt, delay=delay,
        )  # fmt: skip
        return delay

    async def _wait(self, delay: float, deadline: float | None) -> None:
        end = self._clock.monotonic() + delay
        while not self._closed and not self._expired(deadline):
            left = end - self._clock.monotonic()
            if left <= 0:
                return
            await self._clock.sleep(min(left, WAIT_STEP_S))

    def _expired(self, deadline: float | None) -> bool:
        return deadline is not None and self._clock.monotonic() >= deadline


class _TransientFailure(Exception):
    def __init__(self, transient: Transient) -> None:
        super().__init__(transient.problem)
        self.transient = transient


def default_backoff(initial_s: float, max_s: float, rng: Callable[[], float] | None) -> Backoff:
    """The poll backoff: full jitter from ``rng`` (``random.random`` in production)."""
    return Backoff(initial_s, max(max_s, initial_s), jitter=rng)
