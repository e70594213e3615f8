"""Detector scenarios shared by the durable-delivery, quarantine, inhibition and flapping tests
(and reusable by a fault matrix): build a detector on a state dir, feed it results, "crash" it
(drop it without stopping) or stop it as SIGTERM does, and start the next one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from alerts.outbox import Sender
from alerts.render import Notification
from monitor.build_detector import build_detector
from monitor.detector import Detector
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import Clock, ManualClock
from tickwatch.settings import AlertSettings, ClickHouseSettings, Settings, StackSettings
from tickwatch.telemetry.catalog import MonitorMetrics
from tickwatch.types import CheckResult, Status

from .alert_helpers import RecordingClickHouse, wait_until


class Mailbox:
    """A sender that keeps what it was given (use the real SMTP sender where SMTP is the point)."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def __call__(self, n: Notification) -> None:
        self.sent.append(n)


def make_detector(
    state_dir: Path,
    sender: Sender,
    clock: Clock,
    ch: ClickHouseHandle | None = None,
    clickhouse: ClickHouseSettings | None = None,
    **alerts: Any,
) -> tuple[Detector, CollectorRegistry]:
    """A detector as ``tickwatch monitor`` builds it, on ``state_dir``, with alert settings."""
    settings = Settings(
        _env_file=None,
        stack=StackSettings(state_dir=state_dir),
        alerts=AlertSettings(**({"group_wait_s": 1.0} | alerts)),
        clickhouse=clickhouse or ClickHouseSettings(),
    )
    registry = CollectorRegistry()
    detector = build_detector(
        settings, ch or RecordingClickHouse(), sender, MonitorMetrics(registry), clock
    )
    return detector, registry


def result(status: Status, clock: ManualClock, check: str, target: str) -> CheckResult:
    return CheckResult(
        clock.time(), check, target, status, 42.0, 10.0, f"{check} {target} is {status.name}"
    )


def feed(
    d: Detector, clock: ManualClock, statuses: str, check: str = "heartbeat", target: str = "load"
) -> None:
    """One result per letter (O/W/C/U), 5 s apart, through ``on_results``."""
    codes = {"O": Status.OK, "W": Status.WARN, "C": Status.CRIT, "U": Status.UNKNOWN}
    for letter in statuses:
        clock.advance(5)
        d.on_results([result(codes[letter], clock, check, target)])


def restart(
    state_dir: Path, sender: Sender, clock: ManualClock, **alerts: Any
) -> tuple[Detector, CollectorRegistry]:
    """The next process after a crash (the previous detector is simply abandoned)."""
    d, registry = make_detector(state_dir, sender, clock, **alerts)
    d.restore()
    return d, registry


def sigterm(d: Detector, drain_s: float = 2.0) -> None:
    """What ``tickwatch monitor`` does on SIGTERM once the scheduler has stopped."""
    d.final_dispatch()
    d.flush()
    d.outbox.stop(drain_s)
    d.flush()


def deliver(d: Detector, clock: ManualClock, count: int, sent: Any, wait_s: float = 1.0) -> None:
    """Let the group wait pass, dispatch, and wait until ``sent()`` reports ``count`` emails."""
    clock.advance(wait_s)
    d.dispatch()
    wait_until(lambda: len(sent()) >= count)
