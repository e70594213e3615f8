"""Reading the running pipeline for ``tickwatch up``: worker endpoints, Kafka and ClickHouse.

Every probe is bounded by a short timeout and never raises: an unreachable component shows as
down in the panel instead of stopping ``up``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping

import httpx

from tickwatch.up.status import Reading, parse_metrics

PROBE_TIMEOUT_S = 1.0
ROW_COUNT_EVERY_S = 5.0
TABLES = ("trades", "quotes", "bars")


class Probe:
    """Scrapes ``/metrics`` and ``/healthz`` of the workers; counts rows in ClickHouse."""

    def __init__(
        self,
        ports: Mapping[str, int],
        kafka_bootstrap: str,
        clickhouse_query: Callable[[str], int],
        market_database: str,
    ) -> None:
        self._ports = dict(ports)
        self._kafka = kafka_bootstrap
        self._query = clickhouse_query
        self._market = market_database
        self._http = httpx.Client(timeout=PROBE_TIMEOUT_S)
        self._rows: dict[str, int] = {}
        self._rows_at = 0.0
        self._clickhouse = "unknown"

    def metrics(self, worker: str) -> Reading | None:
        """The worker's current reading, or None when it does not answer."""
        try:
            response = self._http.get(f"http://127.0.0.1:{self._ports[worker]}/metrics")
            response.raise_for_status()
        except httpx.HTTPError:
            return None
        return parse_metrics(response.text, time.monotonic())

    def worker_healthy(self, worker: str) -> bool:
        """``/healthz`` answered 200."""
        try:
            url = f"http://127.0.0.1:{self._ports[worker]}/healthz"
            return self._http.get(url).status_code == httpx.codes.OK
        except httpx.HTTPError:
            return False

    def kafka_up(self) -> bool:
        """The first bootstrap address accepts TCP connections."""
        host, _, port = self._kafka.split(",")[0].strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S):
                return True
        except (OSError, ValueError):
            return False

    def clickhouse(self) -> tuple[str, Mapping[str, int]]:
        """ClickHouse state ("up"/"down") and row counts, refreshed every few seconds."""
        if time.monotonic() - self._rows_at >= ROW_COUNT_EVERY_S:
            self._rows_at = time.monotonic()
            try:
                self._rows = {
                    t: self._query(f"SELECT count() FROM {self._market}.{t}") for t in TABLES
                }
                self._clickhouse = "up"
            except Exception:  # any client error means "down" on the panel
                self._clickhouse = "down"
        return self._clickhouse, self._rows

    def close(self) -> None:
        self._http.close()
