"""The kernel's shared toolkit on its own: deadline, backoff, bounded queue, ClickHouse handle,
endpoint fallback and child processes (pure logic, injected clocks, in-memory stand-ins)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tickwatch.backoff import Attempts, Backoff
from tickwatch.buffer import BoundedQueue, Overflow
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.children import stop_child
from tickwatch.clock import ManualClock
from tickwatch.deadline import Deadline
from tickwatch.endpoints import EndpointError, LocalAddresses, resolve_endpoints
from tickwatch.errors import ServiceUnavailable
from tickwatch.settings import load_settings

pytestmark = pytest.mark.usefixtures("isolated_env")


def test_a_deadline_is_one_budget_whoever_spends_it() -> None:
    clock = ManualClock()
    deadline = Deadline(10.0, clock)
    clock.advance(4.0)
    assert deadline.remaining() == 6.0 and not deadline.expired()
    clock.advance(6.0)
    assert deadline.remaining() == 0.0 and not deadline.expired()  # exactly used up
    clock.advance(0.5)
    assert deadline.remaining() == 0.0 and deadline.expired()


def test_backoff_doubles_under_the_cap_and_jitter_scales_the_ceiling() -> None:
    exact = Backoff(1.0, 5.0)
    assert [exact.delay(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    halved = Attempts(Backoff(1.0, 5.0, jitter=lambda: 0.5))
    assert [halved.next_delay() for _ in range(4)] == [0.5, 1.0, 2.0, 2.5]
    assert halved.attempt == 4
    halved.reset()
    assert halved.ceiling() == 1.0
    with pytest.raises(ValueError, match="initial_s"):
        Backoff(0.0, 1.0)


@pytest.mark.parametrize(
    ("overflow", "kept", "accepted"), [("newest", [0, 1, 2], False), ("oldest", [1, 2, 3], True)]
)
def test_a_full_queue_drops_and_counts_by_its_policy(
    overflow: Overflow, kept: list[int], accepted: bool
) -> None:
    drops: list[int] = []
    queue: BoundedQueue[int] = BoundedQueue(3, overflow=overflow, on_drop=drops.append)
    for i in range(3):
        assert queue.offer(i)
    assert queue.offer(3) is accepted
    assert drops == [1]
    assert queue.take(10) == kept


def test_requeued_items_go_back_in_front_and_what_no_longer_fits_is_dropped() -> None:
    drops: list[int] = []
    queue: BoundedQueue[int] = BoundedQueue(3, on_drop=drops.append)
    for i in range(3):
        queue.offer(i)
    batch = queue.take(3)
    queue.offer(10)
    queue.offer(11)  # arrived while the batch was being written
    queue.requeue(batch)  # the write failed: room for one of three
    assert drops == [2]
    assert queue.take(10) == [2, 10, 11]


class _Client:
    def __init__(self, fail: bool) -> None:
        self.fail, self.closed = fail, False

    def command(self, sql: str) -> str:
        if self.fail:
            raise ConnectionError("refused")
        return "26.9"

    def close(self) -> None:
        self.closed = True


def test_the_handle_reconnects_after_a_failure_and_says_unavailable() -> None:
    made: list[_Client] = []

    def factory() -> _Client:
        made.append(_Client(fail=len(made) == 0))
        return made[-1]

    handle = ClickHouseHandle(factory)
    with pytest.raises(ServiceUnavailable, match="ConnectionError: refused"):
        handle.command("SELECT 1")
    assert made[0].closed
    assert handle.command("SELECT 1") == "26.9"
    assert len(made) == 2


def test_endpoints_use_the_fallback_only_when_given(tmp_path: Path) -> None:
    settings = load_settings(stack={"state_dir": tmp_path})
    with pytest.raises(EndpointError, match="no local stack given"):
        resolve_endpoints(settings, ("kafka",))
    records = {"kafka": {"bootstrap": "127.0.0.1:19092", "pid": 7}}
    local = LocalAddresses("a test's records", lambda: records)
    assert resolve_endpoints(settings, ("kafka",), local).kafka_bootstrap == "127.0.0.1:19092"


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print(1, flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline()  # the handler is installed
    assert stop_child(child, grace_s=0.2) == -9
    child.stdout.close()
