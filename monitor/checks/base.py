"""The shape of a health check, what it depends on, and the wrapper that times it, cleans its
targets and turns failures into UNKNOWN."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Protocol

from loguru import logger

from tickwatch.clock import WallClock
from tickwatch.errors import ServiceUnavailable
from tickwatch.sanitize import clean
from tickwatch.types import CheckResult, Status


class Check(Protocol):
    """A health check: ``run()`` measures now and returns one result per target.

    ``run()`` may block up to the check timeout (it runs in a scheduler thread, never in the
    notifier's) and raises :class:`~tickwatch.errors.ServiceUnavailable` (its subclass
    ``CheckUnavailable`` from the Kafka offsets) when what it reads cannot be reached.
    """

    name: str
    interval_s: float

    def run(self) -> list[CheckResult]: ...


CLICKHOUSE = "clickhouse_reachable"
KAFKA = "kafka_reachable"

DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "freshness": (CLICKHOUSE, KAFKA),  # reads ClickHouse; its data arrives through Kafka
    # lag grows while the load worker cannot insert: a ClickHouse outage is its root cause too
    "consumer_lag": (KAFKA, CLICKHOUSE),
    "latency_p99": (CLICKHOUSE, KAFKA),
    "heartbeat": (CLICKHOUSE,),
    "dlq_rate": (CLICKHOUSE,),
    "offset_resets": (CLICKHOUSE,),
}
"""What each check depends on, for a check class that does not declare ``depends_on``."""


def dependencies(checks: list[Check]) -> dict[str, tuple[str, ...]]:
    """``check name -> names of the checks it depends on`` (its ``depends_on`` attribute, else
    :data:`DEPENDS_ON`); only dependencies that are among ``checks`` count."""
    names = {c.name for c in checks}
    out = {}
    for c in checks:
        declared = getattr(c, "depends_on", DEPENDS_ON.get(c.name, ()))
        out[c.name] = tuple(p for p in declared if p in names and p != c.name)
    return out


def run_check(check: Check, clock: WallClock) -> list[CheckResult]:
    """Run ``check`` once; never raises. Unreachable dependencies and bugs become UNKNOWN."""
    started = clock.time()
    t0 = time.perf_counter()
    try:
        results = check.run()
    except ServiceUnavailable as exc:
        results = [_unknown(check.name, started, str(exc))]
    except Exception as exc:  # a broken check must not stop the detector
        logger.exception("check {} failed", check.name)
        results = [_unknown(check.name, started, f"check failed: {type(exc).__name__}: {exc}")]
    elapsed = time.perf_counter() - t0
    # targets come from data (a heartbeat's service, a topic): no CR/LF or control characters
    # may reach an alert key or an email header
    return [
        replace(r, duration=elapsed, check=clean(r.check, 200), target=clean(r.target, 500))
        for r in results
    ]


def _unknown(check: str, now: float, message: str) -> CheckResult:
    return CheckResult(now, check, "*", Status.UNKNOWN, 0.0, 0.0, message)
