"""APScheduler wiring: one job per check, plus the notifier's dispatch and the table flush.

Every job: ``max_instances=1`` (a slow check never overlaps itself), ``coalesce=True`` (runs
missed while it was slow collapse into one) and ``misfire_grace_time`` of one interval (a run
more than one interval late is skipped rather than run stale). Checks run in a thread pool
sized so that a check blocked up to its timeout never delays another check or the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from monitor.checks.base import Check, dependencies, run_check
from monitor.detector import Detector
from tickwatch.clock import WallClock

DISPATCH_INTERVAL_S = 0.25
FLUSH_INTERVAL_S = 2.0


def build_scheduler(checks: list[Check], detector: Detector, clock: WallClock) -> Any:
    """A started-later BackgroundScheduler; call ``.start()`` / ``.shutdown()`` on it.

    Also tells the detector what each check depends on (for inhibition).
    """
    detector.inhibitor.declare(dependencies(checks))
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=len(checks) + 2)}, timezone=UTC
    )
    now = datetime.now(tz=UTC)
    for check in checks:
        _every(scheduler, check.interval_s, f"check:{check.name}", now, func=_check_job,
               args=(check, detector, clock))  # fmt: skip
    _every(scheduler, DISPATCH_INTERVAL_S, "dispatch", now, func=detector.dispatch)
    _every(scheduler, FLUSH_INTERVAL_S, "flush", None, func=detector.flush)
    return scheduler


def _every(
    scheduler: Any,
    seconds: float,
    job_id: str,
    first: datetime | None,
    *,
    func: Callable[..., None],
    args: tuple[Any, ...] = (),
) -> None:
    # APScheduler reads an explicit next_run_time=None as "paused": only pass a real one
    first_run = {"next_run_time": first} if first is not None else {}
    scheduler.add_job(
        func, "interval", args=args, seconds=seconds, id=job_id, max_instances=1,
        coalesce=True, misfire_grace_time=max(1, int(seconds)), **first_run,
    )  # fmt: skip


def _check_job(check: Check, detector: Detector, clock: WallClock) -> None:
    detector.on_results(run_check(check, clock))
