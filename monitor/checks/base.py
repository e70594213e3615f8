"""The shape of a health check and the wrapper that times it and turns failures into UNKNOWN."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Protocol

from loguru import logger

from tickwatch.clock import WallClock
from tickwatch.errors import ServiceUnavailable
from tickwatch.types import CheckResult, Status


class Check(Protocol):
    """A health check: ``run()`` measures now and returns one result per target.

    ``run()`` may block up to the check timeout (it runs in a scheduler thread, never in the
    notifier's) and raises :class:`CheckUnavailable` when what it reads cannot be reached.
    """

    name: str
    interval_s: float

    def run(self) -> list[CheckResult]: ...


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
    return [replace(r, duration=elapsed) for r in results]


def _unknown(check: str, now: float, message: str) -> CheckResult:
    return CheckResult(now, check, "*", Status.UNKNOWN, 0.0, 0.0, message)
