"""A reconnecting WebSocket source: one vendor session per connection, records out as batches.

Lifecycle of :meth:`WebSocketSource.batches`:

1. connect (``open_timeout_s``), send the session's opening frames;
2. receive frames; each goes through the session, whose replies (auth, subscribe) are sent and
   whose records are yielded as one batch; messages and drops are counted per source;
3. a lost connection, a vendor's retryable error or a stall (no frame for ``stall_timeout_s``
   while the market is open) ends the connection: wait a full-jitter backoff delay, count a
   reconnect and start again at 1 with a fresh session, which authenticates and subscribes
   again. The backoff resets once a connection has delivered records;
4. an authentication failure or another fatal error is raised: no reconnect storm. An HTTP 401
   or 403 answer to the WebSocket handshake (Finnhub checks the token in the URL there) is an
   authentication failure;
5. the iterator ends at the run deadline (``duration_s`` > 0) or after :meth:`aclose`.

Every trade passes the source's :class:`~pipeline.sources.live.trade_ledger.TradeLedger` before
it is yielded: one whose natural key was handed out before (on this connection, an earlier one,
or — through the ledger's journal — an earlier process) is dropped as ``duplicate``.
:meth:`WebSocketSource.checkpoint` persists the ledger; the ingest worker calls it once Kafka
has acknowledged everything yielded.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence

from loguru import logger
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from pipeline.codec import Record, Trade
from pipeline.sources.live.errors import AuthenticationError, FatalFeedError, RetryableFeedError
from pipeline.sources.live.ledger_recovery import recover_keys
from pipeline.sources.live.session import DUPLICATE, Decoded, Session, Vendor
from pipeline.sources.live.stall import ConnectionPolicy, receive
from pipeline.sources.live.trade_ledger import TradeLedger
from tickwatch.backoff import Attempts, Backoff
from tickwatch.clock import Clock, SystemClock, micros
from tickwatch.settings import KafkaSettings
from tickwatch.telemetry.catalog import IngestMetrics

# websockets logs every frame at DEBUG, auth frames included; this logger never goes below INFO,
# so a debug log configuration cannot leak credentials.
_WIRE_LOG = logging.getLogger("pipeline.sources.live.frames")
_WIRE_LOG.setLevel(logging.INFO)
_RETRYABLE = (RetryableFeedError, ConnectionClosed, InvalidHandshake, OSError, TimeoutError)
_AUTH_STATUSES = frozenset({401, 403})


class WebSocketSource:
    """A :class:`~pipeline.sources.base.Source` over one vendor's WebSocket feed."""

    def __init__(
        self,
        vendor: Vendor,
        metrics: IngestMetrics,
        policy: ConnectionPolicy,
        *,
        clock: Clock | None = None,
        rng: Callable[[], float] = random.random,
        ledger: TradeLedger | None = None,
    ) -> None:
        self.name = vendor.name
        self.ledger = ledger if ledger is not None else TradeLedger(None, capacity=200_000)
        self._vendor = vendor
        self._metrics = metrics
        self._policy = policy
        self._clock = clock or SystemClock()
        self._backoff = Attempts(
            Backoff(policy.reconnect_initial_s, policy.reconnect_max_s, jitter=rng)
        )
        self._ws: ClientConnection | None = None
        self._session: Session | None = None
        self._closed = False

    async def batches(self) -> AsyncGenerator[Sequence[Record]]:
        """Records as they arrive; raises ``FatalFeedError`` (auth failures included)."""
        deadline = None
        if self._policy.duration_s > 0:
            deadline = self._clock.monotonic() + self._policy.duration_s
        while not self._closed:
            try:
                async for batch in self._connection(deadline):
                    yield batch
                return
            except AuthenticationError:
                self._metrics.source_auth_failure(self.name)
                raise
            except _RETRYABLE as exc:
                if self._closed or self._expired(deadline):
                    return
                await self._pause(exc)

    def checkpoint(self) -> None:
        """Persist the trade ledger (every trade yielded so far is in Kafka)."""
        self.ledger.checkpoint()

    def recover(self, kafka: KafkaSettings, bootstrap: str, window_s: float) -> int:
        """Before connecting: add the keys of this source's trades Kafka got after the last
        checkpoint (:mod:`~pipeline.sources.live.ledger_recovery`). Raises KafkaException."""
        return recover_keys(self.ledger, self.name, kafka, bootstrap, window_s=window_s)

    async def aclose(self) -> None:
        """Stop: close the connection; ``batches()`` ends without reconnecting."""
        self._closed = True
        if self._ws is not None:
            await self._say_goodbye(self._ws)
            await self._ws.close()

    async def _say_goodbye(self, ws: ClientConnection) -> None:
        """Send the session's closing frames (unsubscribes), if it has any; best effort."""
        closing = getattr(self._session, "closing", None)
        if closing is None:
            return
        try:
            for frame in closing():
                await ws.send(frame)
        except ConnectionClosed:
            pass  # already gone: nothing to unsubscribe from

    async def _connection(self, deadline: float | None) -> AsyncIterator[list[Record]]:
        session = self._session = self._vendor.session()
        try:
            ws = await connect(
                self._vendor.url(),
                proxy=None,
                open_timeout=self._policy.open_timeout_s,
                max_size=self._policy.max_frame_bytes,
                logger=_WIRE_LOG,
            )
        except InvalidURI as exc:
            shown = exc.uri.partition("?")[0]  # the query may hold a token (Finnhub)
            raise FatalFeedError(f"{self.name}: invalid URL {shown!r}") from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in _AUTH_STATUSES:
                raise AuthenticationError(f"{self.name}: HTTP {status} at handshake") from None
            raise
        self._ws = ws
        async with ws:
            for opening in session.opening():
                await ws.send(opening)
            while (frame := await self._receive(ws, deadline)) is not None:
                decoded = session.on_frame(frame, micros(self._clock.time()))
                self._guard(decoded)
                for reply in decoded.replies:
                    await ws.send(reply)
                self._account(decoded)
                if decoded.records:
                    self._backoff.reset()
                    yield decoded.records
                if decoded.stop is not None:
                    raise decoded.stop

    async def _receive(self, ws: ClientConnection, deadline: float | None) -> str | bytes | None:
        return await receive(
            ws,
            clock=self._clock,
            market=self._vendor.market,
            stall_timeout_s=self._policy.stall_timeout_s,
            deadline=deadline,
            closed=lambda: self._closed,
        )

    def _guard(self, decoded: Decoded) -> None:
        """Drop trades already handed out (natural key in the ledger) as ``duplicate``."""
        admit = self.ledger.admit
        kept = [r for r in decoded.records if not isinstance(r, Trade) or admit(r)]
        decoded.drop(DUPLICATE, len(decoded.records) - len(kept))
        decoded.records = kept

    def _account(self, decoded: Decoded) -> None:
        if decoded.messages:
            self._metrics.source_message(self.name, decoded.messages)
        for reason, n in decoded.drops.items():
            self._metrics.source_dropped(self.name, reason, n)
        if decoded.records:
            self._metrics.source_record_seen(self.name, self._clock.time())

    async def _pause(self, exc: BaseException) -> None:
        delay = self._backoff.next_delay()
        logger.warning(
            "{source}: connection lost ({reason}); reconnect #{attempt} in {delay:.2f}s",
            source=self.name,
            reason=_describe(exc),
            attempt=self._backoff.attempt,
            delay=delay,
        )
        await self._clock.sleep(delay)
        self._metrics.source_reconnect(self.name)

    def _expired(self, deadline: float | None) -> bool:
        return deadline is not None and self._clock.monotonic() >= deadline


def _describe(exc: BaseException) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        return f"HTTP {status} at handshake"
    return f"{type(exc).__name__}: {exc}"
