"""Time budgets: a deadline every wait in a scenario honours, and an alarm as the backstop."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from bench.errors import ScenarioTimeout
from tickwatch.clock import SYSTEM_CLOCK, MonotonicClock
from tickwatch.deadline import Deadline as KernelDeadline

# Extra time the alarm allows past the deadline, so a scenario's own bounded waits normally
# report the timeout with a clear message before the alarm interrupts whatever is running.
ALARM_GRACE_S = 20.0


class Deadline(KernelDeadline):
    """The kernel's :class:`~tickwatch.deadline.Deadline` for a scenario, which must stop after."""

    def __init__(self, budget_s: float, clock: MonotonicClock = SYSTEM_CLOCK) -> None:
        super().__init__(budget_s, clock)

    def check(self, what: str) -> None:
        """Raise :class:`ScenarioTimeout` naming ``what`` when the budget is used up."""
        if self.remaining() <= 0:
            raise ScenarioTimeout(f"{what}: time budget of {self.budget_s:.0f} s used up")

    def sleep(self, seconds: float, what: str) -> None:
        """Sleep ``seconds`` or until the deadline, then :meth:`check`."""
        time.sleep(min(seconds, self.remaining()))
        self.check(what)


@contextmanager
def alarm(budget_s: float) -> Iterator[None]:
    """Raise :class:`ScenarioTimeout` in the main thread ``budget_s + grace`` from now.

    Interrupts blocking calls that do not watch a :class:`Deadline`; ``finally`` blocks and
    context managers of the scenario still run, so its processes are stopped. Does nothing when
    another timer is already pending (pytest-timeout's, in the smoke test): that one is the
    backstop then, and it is left untouched.
    """
    if signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return

    def _expired(signum: int, frame: FrameType | None) -> None:
        raise ScenarioTimeout(f"scenario exceeded its time budget of {budget_s:.0f} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, budget_s + ALARM_GRACE_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
