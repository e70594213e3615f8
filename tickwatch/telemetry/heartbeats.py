"""Worker heartbeats: ``tickwatch_heartbeat_timestamp_seconds{service}`` and ``{ops}.heartbeats``.

Every ``telemetry.heartbeat_interval_s`` the exporter thread sets the gauge to the current Unix
time and offers one row ``(time, service, instance, host, pid, started, status, details)``.
The downtime detector reads ``max(time)`` per ``(service, instance)`` from ClickHouse; Prometheus
alerts can use ``time() - tickwatch_heartbeat_timestamp_seconds``. Because the beat comes from
the telemetry thread, it proves the process is alive; ``status`` ("ok" / "unhealthy", from the
worker's health callback) says whether the worker itself considers its loop healthy.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

from tickwatch.clock import WallClock
from tickwatch.telemetry.catalog import ServiceMetrics
from tickwatch.telemetry.export import Channel, Row, TableSpec

_LC = "LowCardinality(String)"
_TIME = "DateTime64(3, 'UTC')"
HEARTBEATS_TABLE = TableSpec(
    "heartbeats",
    (
        ("time", _TIME), ("service", _LC), ("instance", _LC), ("host", _LC), ("pid", "UInt32"),
        ("started", _TIME), ("status", _LC), ("details", "Map(LowCardinality(String), String)"),
    ),
)  # fmt: skip


def default_instance() -> str:
    """``host:pid``: unique among the workers running at one time."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """The exporter job that beats once each time it runs; ``channel`` None = gauge only."""

    def __init__(
        self,
        metrics: ServiceMetrics,
        channel: Channel[Row] | None,
        service: str,
        instance: str,
        *,
        clock: WallClock,
        health: Callable[[], bool] = lambda: True,
    ) -> None:
        self._metrics = metrics
        self.channel = channel
        self._identity = (service, instance, socket.gethostname(), os.getpid())
        self._clock = clock
        self._started = clock.time()
        self.health = health
        self.details: dict[str, str] = {}

    def __call__(self) -> None:
        now = self._clock.time()
        self._metrics.heartbeat(now)
        channel = self.channel
        if channel is not None:
            channel.offer(self.row(now))

    def row(self, now: float) -> Row:
        """The ``heartbeats`` row for a beat at ``now``."""
        service, instance, host, pid = self._identity
        status = "ok" if _healthy(self.health) else "unhealthy"
        started = round(self._started * 1000)
        return (round(now * 1000), service, instance, host, pid, started, status, self.details)


def _healthy(health: Callable[[], bool]) -> bool:
    try:
        return bool(health())
    except Exception:  # a failing health callback means unhealthy, never a dead heartbeat
        return False
