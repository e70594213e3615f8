"""One :class:`ClickHouseHandle` is shared by every check of the detector (issue 12, the
``clickhouse-hung-30s`` fault): a call must be bounded by its own timeouts, never by another
thread's connect, and one failing call must not tear down a client another thread has just
rebuilt. In-memory clients; threads synchronised by events, no timings asserted."""

from __future__ import annotations

import threading
from typing import Any

from tickwatch.chhandle import ClickHouseHandle
from tickwatch.errors import ServiceUnavailable

LIVENESS_S = 10.0  # a bound for a thread that must get there, not a measured time


class _Client:
    def __init__(self, name: str) -> None:
        self.name, self.closed = name, False
        self.fail = threading.Event()

    def command(self, sql: str) -> str:
        if self.fail.is_set():
            raise ConnectionError(f"{self.name}: read timed out")
        return self.name

    def close(self) -> None:
        self.closed = True


def test_a_connect_in_progress_does_not_hold_up_other_callers() -> None:
    """While one caller's connect hangs (the server accepts, never answers), another caller
    reaches its own connect instead of queueing behind it: so its call fails or succeeds within
    its own timeouts (seen: checks with a 2 s timeout taking 13 s in a convoy)."""
    entered = [threading.Event(), threading.Event()]
    release = threading.Event()
    calls = iter(range(2))

    def factory() -> Any:
        n = next(calls)
        entered[n].set()
        if n == 0:
            release.wait(10 * LIVENESS_S)  # the first connect hangs until released
            raise ConnectionError("first: read timed out")
        return _Client("second")

    handle = ClickHouseHandle(factory)
    outcomes: dict[str, object] = {}

    def call(name: str) -> None:
        try:
            outcomes[name] = handle.command("SELECT 1")
        except ServiceUnavailable as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=call, args=(n,), daemon=True) for n in ("a", "b")]
    threads[0].start()
    try:
        assert entered[0].wait(LIVENESS_S)
        threads[1].start()
        # the second caller connects while the first connect still hangs
        assert entered[1].wait(LIVENESS_S), "the second caller waited for the first's connect"
        threads[1].join(LIVENESS_S)
        assert outcomes["b"] == "second"
    finally:
        release.set()
        for t in threads:
            t.join(LIVENESS_S)
    assert "first: read timed out" in str(outcomes["a"])
    assert handle.command("SELECT 1") == "second"  # the failed connect did not drop it


def test_a_failure_on_an_old_client_does_not_close_the_rebuilt_one() -> None:
    """A call still blocked on the client of before an outage fails late: the client another
    caller has rebuilt meanwhile stays (else every late failure restarts the recovery)."""
    made: list[_Client] = []
    blocked, go = threading.Event(), threading.Event()

    def factory() -> Any:
        made.append(_Client(f"c{len(made)}"))
        return made[-1]

    def slow(client: Any) -> Any:
        blocked.set()
        go.wait(LIVENESS_S)
        client.fail.set()
        return client.command("SELECT 1")

    handle = ClickHouseHandle(factory)
    late: list[BaseException] = []

    def on_c0() -> None:
        try:
            handle.run(slow)
        except ServiceUnavailable as exc:
            late.append(exc)

    thread = threading.Thread(target=on_c0, daemon=True)
    thread.start()
    assert blocked.wait(LIVENESS_S)
    handle.close()  # another caller's failure dropped c0
    assert handle.command("SELECT 1") == "c1"
    go.set()
    thread.join(LIVENESS_S)
    assert len(late) == 1 and made[0].closed
    assert not made[1].closed
    assert handle.command("SELECT 1") == "c1" and len(made) == 2


def test_concurrent_connects_keep_one_client_and_close_the_others() -> None:
    """Callers that connected at the same time: one client is kept, the extra ones closed."""
    gate = threading.Barrier(3)
    made: list[_Client] = []
    lock = threading.Lock()

    def factory() -> Any:
        with lock:
            made.append(_Client(f"c{len(made)}"))
            client = made[-1]
        gate.wait(LIVENESS_S)  # all three are connecting at once
        return client

    handle = ClickHouseHandle(factory)
    names: list[str] = []
    threads = [
        threading.Thread(target=lambda: names.append(handle.command("SELECT 1")), daemon=True)
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LIVENESS_S)
    kept = [c for c in made if not c.closed]
    assert len(made) == 3 and len(kept) == 1
    assert handle.command("SELECT 1") == kept[0].name
