"""Are the Kafka broker and ClickHouse answering? CRIT when not, within ``check_timeout_s``.

These two checks are the alerts for an outage of a dependency; checks that read the dependency
report UNKNOWN meanwhile (see :class:`tickwatch.types.Status`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import WallClock
from tickwatch.errors import ServiceUnavailable
from tickwatch.types import CheckResult, Status


class KafkaReachableCheck:
    """Cluster metadata from an AdminClient within the timeout."""

    name = "kafka_reachable"

    def __init__(
        self,
        admin_factory: Callable[[], Any],
        target: str,
        *,
        timeout_s: float,
        interval_s: float,
        clock: WallClock,
    ) -> None:
        self._factory = admin_factory
        self._admin: Any = None
        self._target, self._timeout = target, timeout_s
        self.interval_s = interval_s
        self._clock = clock

    def run(self) -> list[CheckResult]:
        now = self._clock.time()
        try:
            if self._admin is None:
                self._admin = self._factory()
            meta = self._admin.list_topics(timeout=self._timeout)
        except Exception as exc:  # KafkaException or a timeout: unreachable
            return [
                CheckResult(
                    now,
                    self.name,
                    self._target,
                    Status.CRIT,
                    0.0,
                    self._timeout,
                    f"Kafka broker not answering within {self._timeout:.0f}s: {exc}",
                )
            ]
        brokers = len(meta.brokers)
        return [
            CheckResult(
                now,
                self.name,
                self._target,
                Status.OK,
                float(brokers),
                self._timeout,
                f"{brokers} broker(s), {len(meta.topics)} topics",
            )
        ]


class ClickHouseReachableCheck:
    """``SELECT version()`` over HTTP."""

    name = "clickhouse_reachable"

    def __init__(
        self, ch: ClickHouseHandle, target: str, *, interval_s: float, clock: WallClock
    ) -> None:
        self._ch, self._target = ch, target
        self.interval_s = interval_s
        self._clock = clock

    def run(self) -> list[CheckResult]:
        now = self._clock.time()
        try:
            version = self._ch.command("SELECT version()")
        except ServiceUnavailable as exc:
            return [
                CheckResult(
                    now,
                    self.name,
                    self._target,
                    Status.CRIT,
                    0.0,
                    0.0,
                    f"ClickHouse not answering: {exc}",
                )
            ]
        return [
            CheckResult(
                now, self.name, self._target, Status.OK, 1.0, 0.0, f"ClickHouse {version} answering"
            )
        ]
