"""The detector's latest word on every check and target, for the status page and the API.

:class:`ObservedCheck` wraps a check so that every run also lands on the :class:`CheckBoard`
(results as they are; an unreachable dependency marks the check's known targets UNKNOWN). The
board keeps, per ``check/target``, the latest result and since when its status has been what it
is. It sees what the alert state machine sees, UNKNOWN included, without reaching into it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from monitor.checks.base import Check
from tickwatch.clock import WallClock
from tickwatch.errors import ServiceUnavailable
from tickwatch.types import CheckResult, Status


@dataclass(frozen=True, slots=True)
class TargetState:
    """One row of the page: the latest result of one target and when its status last changed."""

    result: CheckResult
    since: float

    @property
    def key(self) -> str:
        return self.result.key


class CheckBoard:
    """Latest result per alert key; thread-safe (checks run in scheduler threads)."""

    def __init__(self, clock: WallClock) -> None:
        self._clock = clock
        self._rows: dict[str, TargetState] = {}
        self._lock = threading.Lock()

    def record(self, results: list[CheckResult]) -> None:
        """Keep the alertable results (detail rows are for dashboards only)."""
        with self._lock:
            for r in results:
                if r.alertable:
                    self._put(r)

    def unavailable(self, check: str, message: str) -> None:
        """``check`` could not measure: every target it reported before is UNKNOWN now."""
        now = self._clock.time()
        with self._lock:
            known = [s.result for s in self._rows.values() if s.result.check == check]
            for r in known or [CheckResult(now, check, "*", Status.UNKNOWN, 0.0, 0.0, message)]:
                self._put(replace(r, time=now, status=Status.UNKNOWN, message=message))

    def states(self) -> list[TargetState]:
        """Every target, sorted by check then target."""
        with self._lock:
            return sorted(self._rows.values(), key=lambda s: (s.result.check, s.result.target))

    def latest(self, check: str) -> list[CheckResult]:
        """The latest results of ``check`` (all its targets)."""
        return [s.result for s in self.states() if s.result.check == check]

    def _put(self, r: CheckResult) -> None:
        if r.target != "*":  # a measured target replaces the placeholder of an outage
            self._rows.pop(f"{r.check}/*", None)
        previous = self._rows.get(r.key)
        since = previous.since if previous and previous.result.status is r.status else r.time
        self._rows[r.key] = TargetState(r, since)


class ObservedCheck:
    """A check whose every run is also recorded on a :class:`CheckBoard`."""

    def __init__(self, check: Check, board: CheckBoard) -> None:
        self._check, self._board = check, board
        self.name, self.interval_s = check.name, check.interval_s

    def run(self) -> list[CheckResult]:
        """As the wrapped check's ``run`` (raises ServiceUnavailable the same way)."""
        try:
            results = self._check.run()
        except ServiceUnavailable as exc:
            self._board.unavailable(self.name, str(exc))
            raise
        except Exception as exc:  # run_check logs it and reports UNKNOWN; so does the board
            self._board.unavailable(self.name, f"check failed: {type(exc).__name__}: {exc}")
            raise
        self._board.record(results)
        return results


def observed(checks: list[Check], board: CheckBoard) -> list[Check]:
    """Every check wrapped so that its results also reach ``board``."""
    return [ObservedCheck(c, board) for c in checks]
