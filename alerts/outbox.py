"""The outbox: a bounded FIFO of rendered notifications, delivered by one background thread.

Guarantees:
* :meth:`Outbox.put` never blocks and never waits on SMTP: checks and the notifier go on.
* A notification leaves the outbox only once its send succeeded (or it is dropped, see below),
  and it is sent by one thread, one attempt at a time: when SMTP comes back after an outage,
  every pending email is delivered once, in order.
* Failed attempts are retried with exponential backoff (tenacity): ``retry_initial_s`` doubling
  up to ``retry_max_s``, for as long as the detector runs.
* At most ``max_items`` wait; on overflow the oldest not-in-flight one is dropped.
* Every attempt is recorded (``ops.notifications``: sent / retrying / failed) and counted.
* What is still queued at :meth:`Outbox.stop` stays queued: :meth:`Outbox.undelivered` hands it
  to the state snapshot, and the next detector process delivers it. ``on_change`` is called
  (outside the outbox's lock) after every change of the queue, so the snapshot follows it.
* The delivery thread never dies of a notification: one that can never be sent
  (:class:`Undeliverable`, or any unexpected error while sending it) is quarantined — removed
  from the queue (so it cannot block the head after a restart either), logged, recorded as
  ``quarantined``, counted — and replaced by one plain-text fallback email naming it. A
  fallback that cannot be sent is quarantined without another fallback. :attr:`alive` tells
  ``/healthz`` whether the thread runs.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable

from loguru import logger
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from alerts.errors import RecoverableAlertError
from alerts.journal import Journal
from alerts.render import Notification, fallback
from tickwatch.backoff import Backoff
from tickwatch.clock import Clock
from tickwatch.deadline import Deadline
from tickwatch.telemetry.catalog import MonitorMetrics

Sender = Callable[[Notification], Awaitable[None]]


class Outbox:
    def __init__(
        self,
        sender: Sender,
        journal: Journal,
        recipients: list[str],
        *,
        max_items: int,
        retry_initial_s: float,
        retry_max_s: float,
        clock: Clock,
        metrics: MonitorMetrics | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._sender, self._journal, self._recipients = sender, journal, recipients
        self._max, self._clock, self._metrics = max_items, clock, metrics
        # tenacity runs the retry loop; the delays come from the kernel's one backoff policy
        self._backoff = Backoff(retry_initial_s, max(retry_max_s, retry_initial_s))
        self._items: deque[Notification] = deque()
        self._cond = threading.Condition()
        self._in_flight = False
        self._closing = threading.Event()
        self.on_change = on_change
        self.quarantined = 0
        self._thread = threading.Thread(target=self._run, name="tickwatch-outbox", daemon=True)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._items)

    @property
    def alive(self) -> bool:
        """The delivery thread runs (False before :meth:`start` and after it ended)."""
        return self._thread.is_alive()

    def put(self, n: Notification) -> None:
        """Queue ``n`` for delivery; returns at once (the caller persists the queue after)."""
        with self._cond:
            if len(self._items) >= self._max:
                victim = self._items[1] if self._in_flight and len(self._items) > 1 else None
                victim = victim or self._items[0]
                self._items.remove(victim)
                self._record(victim, "failed", 0, "outbox full: dropped")
            self._items.append(n)
            self._gauge()
            self._cond.notify()

    def undelivered(self) -> list[Notification]:
        """What is still queued, oldest first (saved by the detector's state snapshot)."""
        with self._cond:
            return list(self._items)

    def start(self) -> None:
        self._thread.start()

    def stop(self, drain_s: float = 5.0) -> None:
        """Give pending mail up to ``drain_s`` to go out, then stop the delivery thread."""
        deadline = Deadline(drain_s, self._clock)
        while self.pending and deadline.remaining() > 0:
            self._closing.wait(0.05)  # never set here yet: a short pause between looks
        self._closing.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=drain_s + 5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while not self._closing.is_set():
                n = self._next()
                if n is None:
                    continue
                try:
                    loop.run_until_complete(self._deliver(n))
                except Exception as exc:  # Undeliverable or a bug: never let it kill the thread
                    self._quarantine_safely(n, exc)
        finally:
            loop.close()

    def _quarantine_safely(self, n: Notification, exc: Exception) -> None:
        try:
            self._quarantine(n, exc)
        except Exception:  # recording failed too: still take it out, so the rest goes out
            logger.exception("quarantine of notification {} failed; dropping it", n.id)
            with self._cond:
                self._items = deque(item for item in self._items if item is not n)
                self._in_flight = False

    def _quarantine(self, n: Notification, exc: Exception) -> None:
        """Take ``n`` out of the queue for good; queue one plain-text fallback naming it."""
        reason = f"{type(exc).__name__}: {exc}"
        logger.error("notification {} quarantined (cannot be sent): {}", n.id, reason)
        with self._cond:
            self._items = deque(item for item in self._items if item is not n)
            self._in_flight = False
            self.quarantined += 1
            if not n.id.endswith("-fallback"):
                self._items.appendleft(fallback(n, reason, self._clock.time()))
            self._gauge()
        self._record(n, "quarantined", 0, reason)
        if self._metrics is not None:
            self._metrics.notification_quarantined()
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # persisting is best effort here; the next flush saves again
                logger.exception("outbox change callback failed")

    def _next(self) -> Notification | None:
        with self._cond:
            if not self._items:
                self._cond.wait(timeout=0.5)
            if not self._items:
                return None
            self._in_flight = True
            return self._items[0]

    async def _deliver(self, n: Notification) -> None:
        retrying = AsyncRetrying(
            wait=self._retry_delay,
            retry=retry_if_exception_type(RecoverableAlertError),
            stop=lambda _state: self._closing.is_set(),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._attempt(n, attempt.retry_state)
        except RecoverableAlertError as exc:
            # stopping: the notification stays queued, for :meth:`undelivered` to persist
            logger.warning("notification {} not delivered before stop: {}", n.id, exc)
            with self._cond:
                self._in_flight = False
            return
        with self._cond:
            if self._items and self._items[0] is n:
                self._items.popleft()
            self._in_flight = False
            self._gauge()
        logger.info("notification {} sent: {}", n.id, n.subject)
        self._changed()

    async def _attempt(self, n: Notification, state: RetryCallState) -> None:
        try:
            await self._sender(n)
        except RecoverableAlertError as exc:
            logger.warning("email attempt {} failed, will retry: {}", state.attempt_number, exc)
            self._record(n, "retrying", state.attempt_number, str(exc))
            raise
        self._record(n, "sent", state.attempt_number)

    def _retry_delay(self, state: RetryCallState) -> float:
        """Attempt ``n`` (from 1) failed: wait the policy's delay after ``n - 1`` failures."""
        return self._backoff.delay(state.attempt_number - 1)

    async def _sleep(self, seconds: float) -> None:
        """Sleep on the clock in slices of at most 0.1 s, so :meth:`stop` is not kept waiting."""
        deadline = Deadline(seconds, self._clock)
        while not self._closing.is_set() and (left := deadline.remaining()) > 0:
            await self._clock.sleep(min(left, 0.1))

    def _record(self, n: Notification, status: str, attempt: int, error: str = "") -> None:
        self._journal.notification(
            self._clock.time(), n, self._recipients, status=status, attempt=attempt, error=error
        )
        if self._metrics is not None:
            self._metrics.notification(status)

    def _gauge(self) -> None:
        if self._metrics is not None:
            self._metrics.outbox_pending(len(self._items))
