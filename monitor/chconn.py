"""A ClickHouse connection that survives ClickHouse going away.

clickhouse-connect pings the server when a client is built, so the detector cannot build one at
start-up and keep it: ClickHouse may be down then, or go down later. :class:`ClickHouseHandle`
builds the client on first use, drops it after a failure and rebuilds it on the next call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from monitor.errors import CheckUnavailable
from tickwatch.clients import clickhouse_client
from tickwatch.settings import ClickHouseSettings

ClientFactory = Callable[[], Any]


def bounded_factory(settings: ClickHouseSettings, url: str, timeout_s: float) -> ClientFactory:
    """Clients whose every call gives up within ``timeout_s`` (``monitor.check_timeout_s``):
    connect and send/receive timeouts of that size, and no query retries, so a hung ClickHouse
    (accepting connections, never answering) fails a check within its budget."""
    return lambda: clickhouse_client(settings, url, timeout_s=timeout_s, query_retries=0)


class ClickHouseHandle:
    """Thread-safe lazy client; every failure surfaces as :class:`CheckUnavailable`."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client

    def _drop(self) -> None:
        with self._lock:
            self._client = None

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        try:
            return fn(self._get())
        except Exception as exc:  # any driver/network error means "unreachable"
            self._drop()
            raise CheckUnavailable(f"ClickHouse: {type(exc).__name__}: {exc}") from exc

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[Sequence[Any]]:
        """Run a SELECT and return its rows. Raises CheckUnavailable."""
        result = self._call(lambda c: c.query(sql, parameters=parameters or {}))
        return list(result.result_rows)

    def command(self, sql: str) -> Any:
        """Run a statement (``SELECT 1``, DDL). Raises CheckUnavailable."""
        return self._call(lambda c: c.command(sql))

    def insert(self, table: str, rows: list[list[object]], columns: list[str]) -> None:
        """Insert ``rows`` into ``table`` (``db.name``). Raises CheckUnavailable."""
        self._call(lambda c: c.insert(table, rows, column_names=columns))
