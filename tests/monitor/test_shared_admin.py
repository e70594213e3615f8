"""The Kafka checks share one AdminClient, built once even when they first run together."""

from __future__ import annotations

import threading
from typing import Any

from monitor.build_checks import SharedAdmin


def test_checks_starting_together_build_one_client() -> None:
    admin = SharedAdmin({"bootstrap.servers": "127.0.0.1:1", "log_level": 0})
    start = threading.Barrier(6)
    got: list[Any] = []

    def first_run() -> None:
        start.wait()
        got.append(admin())

    threads = [threading.Thread(target=first_run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 6
    assert all(client is got[0] for client in got)
    assert admin() is got[0]
