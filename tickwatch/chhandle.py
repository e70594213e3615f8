"""A ClickHouse connection that survives ClickHouse going away.

clickhouse-connect pings the server when a client is built, so a long-running process cannot
build one at start-up and keep it: ClickHouse may be down then, or go down later.
:class:`ClickHouseHandle` builds the client on first use, closes and drops it after a failure and
rebuilds it on the next call. The detector, the alert journal and the telemetry exporter all
reach ClickHouse through it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from tickwatch.clients import clickhouse_client
from tickwatch.errors import ServiceUnavailable
from tickwatch.settings import ClickHouseSettings

ClientFactory = Callable[[], Any]


def bounded_factory(settings: ClickHouseSettings, url: str, timeout_s: float) -> ClientFactory:
    """Clients whose every call gives up within ``timeout_s`` (``monitor.check_timeout_s``):
    connect and send/receive timeouts of that size, and no query retries, so a hung ClickHouse
    (accepting connections, never answering) fails a check within its budget."""
    return lambda: clickhouse_client(settings, url, timeout_s=timeout_s, query_retries=0)


class ClickHouseHandle:
    """Thread-safe lazy client; every failure surfaces as :class:`ServiceUnavailable`.

    Shared by callers with their own budgets (every check of the detector), so a call is bounded
    by its own timeouts only: a client is built outside the lock (a connect to a hung server
    never makes the other callers queue behind it), and a failed call drops only the client it
    used (a call that was blocked on the client of before an outage and fails late leaves the
    client another caller has rebuilt meanwhile).
    """

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._client is not None:
                return self._client
        fresh = self._factory()  # network (connect, handshake): never under the lock
        with self._lock:
            if self._client is None:
                self._client = fresh
                return fresh
            kept = self._client
        _close(fresh)  # another caller connected at the same time: keep one client
        return kept

    def close(self) -> None:
        """Close the current client, if any; the next call reconnects."""
        with self._lock:
            client, self._client = self._client, None
        _close(client)

    def _discard(self, client: Any) -> None:
        """Drop ``client`` after its failure, unless it was replaced meanwhile; close it."""
        with self._lock:
            if self._client is client:
                self._client = None
        _close(client)

    def run(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(client)``; any driver or network error closes the client and raises
        :class:`ServiceUnavailable` (chained to the original)."""
        client = None
        try:
            client = self._get()
            return fn(client)
        except Exception as exc:  # any driver/network error means "unreachable"
            self._discard(client)
            raise ServiceUnavailable(f"ClickHouse: {type(exc).__name__}: {exc}") from exc

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[Sequence[Any]]:
        """Run a SELECT and return its rows. Raises ServiceUnavailable."""
        result = self.run(lambda c: c.query(sql, parameters=parameters or {}))
        return list(result.result_rows)

    def command(self, sql: str) -> Any:
        """Run a statement (``SELECT 1``, DDL). Raises ServiceUnavailable."""
        return self.run(lambda c: c.command(sql))

    def insert(self, table: str, rows: list[list[object]], columns: list[str]) -> None:
        """Insert ``rows`` into ``table`` (``db.name``). Raises ServiceUnavailable."""
        self.run(lambda c: c.insert(table, rows, column_names=columns))


def _close(client: Any) -> None:
    if client is not None:
        with contextlib.suppress(Exception):  # a broken connection may fail to close
            client.close()
