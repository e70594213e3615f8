"""Checks that read ClickHouse judge only data that could have arrived after it came back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from monitor.checks.heartbeats import HeartbeatCheck
from monitor.checks.pipeline_rates import LatencyCheck
from tickwatch.clock import ManualClock, utc
from tickwatch.errors import ServiceUnavailable
from tickwatch.types import Status

from .monitor_fakes import FakeClickHouse

NOW = 1_800_000_000.0


def test_heartbeats_older_than_the_outage_are_unknown_for_one_timeout_then_crit() -> None:
    clock = ManualClock(NOW)
    ch = FakeClickHouse(lambda _sql, _params: [("load", "h:1", NOW, "ok")])
    check = HeartbeatCheck(ch, "ops", ["load"], timeout_s=30, interval_s=5, clock=clock)
    assert check.run()[0].status is Status.OK
    ch.down = True
    clock.advance(60)
    with pytest.raises(ServiceUnavailable):
        check.run()
    ch.down = False
    clock.advance(5)
    (back,) = check.run()
    assert back.status is Status.UNKNOWN and "waiting up to 30s" in back.message
    clock.advance(30)  # a live worker would have written a heartbeat by now
    assert check.run()[0].status is Status.CRIT


def test_latency_counts_only_trades_from_after_the_outage() -> None:
    clock, seen = ManualClock(NOW), []

    def answer(_sql: str, params: dict[str, Any]) -> list[Sequence[Any]]:
        seen.append(params["floor"])
        backlog = params["floor"] < utc(NOW + 10)  # the backlog's event times are older
        return [(1000, 65.0)] if backlog else [(10, 0.3)]

    ch = FakeClickHouse(answer)
    check = LatencyCheck(ch, "market", threshold_s=5, interval_s=15, clock=clock)
    assert check.run()[0].status is Status.CRIT  # no outage seen: the latency is real
    ch.down = True
    clock.advance(5)
    with pytest.raises(ServiceUnavailable):
        check.run()
    ch.down = False
    clock.advance(60)
    (back,) = check.run()
    assert back.status is Status.OK and back.value == 0.3
    assert seen[-1] == utc(NOW + 65)
