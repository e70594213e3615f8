"""Builders shared by the alerting tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from alerts.book import AlertBook
from alerts.events import AlertEvent
from alerts.muting import Muting
from alerts.notifier import Notifier, NotifyPolicy
from alerts.silences import Silence
from alerts.state import AlertPolicy
from alerts.windows import MaintenanceWindow
from monitor.errors import CheckUnavailable
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import ManualClock
from tickwatch.types import CheckResult, Status


def result(
    status: Status, when: float, check: str = "freshness", target: str = "trades/crypto"
) -> CheckResult:
    return CheckResult(when, check, target, status, 42.0, 10.0, f"{check} is {status.name}")


def feed(book: AlertBook, clock: ManualClock, statuses: str, **kw: str) -> list[AlertEvent]:
    """One result per letter (O=OK, W=WARN, C=CRIT, U=UNKNOWN), one second apart."""
    codes = {"O": Status.OK, "W": Status.WARN, "C": Status.CRIT, "U": Status.UNKNOWN}
    events: list[AlertEvent] = []
    for letter in statuses:
        clock.advance(1)
        events += book.observe([result(codes[letter], clock.time(), **kw)])
    return events


def notifier(
    clock: ManualClock,
    *,
    silences: list[Silence] | None = None,
    windows: list[MaintenanceWindow] | None = None,
    repeat: float = 3600,
    group_wait: float = 1,
    per_hour: int = 30,
) -> Notifier:
    policy = NotifyPolicy(repeat, group_wait, per_hour)
    return Notifier(policy, Muting(silences or [], windows or []), clock)


def book() -> AlertBook:
    return AlertBook(AlertPolicy(open_after=2, resolve_after=2, flap_window=10, flap_threshold=4))


class RecordingClickHouse(ClickHouseHandle):
    """Keeps inserted rows per table; ``down`` makes every call fail like an outage."""

    def __init__(self) -> None:
        super().__init__(lambda: None)
        self.down = False
        self.inserted: dict[str, list[list[object]]] = {}

    def insert(self, table: str, rows: list[list[object]], columns: list[str]) -> None:
        if self.down:
            raise CheckUnavailable("ClickHouse: connection refused")
        self.inserted.setdefault(table, []).extend(rows)

    def statuses(self) -> list[tuple[str, int]]:
        """(status, attempt) of every ops.notifications row written so far."""
        return [(str(r[5]), int(r[6])) for r in self.inserted.get("ops.notifications", [])]  # type: ignore[call-overload]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` (for background threads); fails the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)
