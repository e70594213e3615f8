"""Heartbeats (missing service, silent worker, unhealthy worker), latency p99 and DLQ rate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.checks.heartbeats import HeartbeatCheck
from monitor.checks.pipeline_rates import DeadLetterRateCheck, LatencyCheck
from tickwatch.clock import ManualClock
from tickwatch.types import Status

from .monitor_fakes import FakeClickHouse

NOW = 1_800_000_000.0


def heartbeats(rows: list[tuple[str, str, float, str]]) -> dict[str, tuple[Status, str]]:
    clock = ManualClock(NOW)
    ch = FakeClickHouse(lambda _sql, _params: list(rows))
    check = HeartbeatCheck(ch, "ops", ["ingest", "load"], timeout_s=30, interval_s=5, clock=clock)
    return {r.target: (r.status, r.message) for r in check.run()}


def test_expected_service_without_any_heartbeat_is_crit() -> None:
    got = heartbeats([("ingest", "h:1", NOW - 2, "ok")])
    assert got["ingest"][0] is Status.OK
    assert got["load"][0] is Status.CRIT and "no heartbeat from load" in got["load"][1]


def test_service_whose_only_worker_went_silent_is_crit() -> None:
    got = heartbeats([("ingest", "h:1", NOW - 2, "ok"), ("load", "h:2", NOW - 45, "ok")])
    assert got["load"][0] is Status.CRIT and "45s ago" in got["load"][1]


def test_replaced_worker_does_not_alert_while_its_successor_beats() -> None:
    got = heartbeats(
        [("ingest", "h:1", NOW - 2, "ok"), ("load", "h:2", NOW - 200, "ok"),
         ("load", "h:3", NOW - 1, "ok")]
    )  # fmt: skip
    assert got["load"][0] is Status.OK and "h:2" in got["load"][1]


def test_unhealthy_worker_warns_and_unexpected_services_are_reported_too() -> None:
    got = heartbeats(
        [("ingest", "h:1", NOW - 2, "ok"), ("load", "h:2", NOW - 1, "unhealthy"),
         ("monitor", "h:4", NOW - 1, "ok")]
    )  # fmt: skip
    assert got["load"][0] is Status.WARN
    assert got["monitor"][0] is Status.OK


def rates(answer: list[Sequence[Any]], cls: type[LatencyCheck] | type[DeadLetterRateCheck]):  # type: ignore[no-untyped-def]
    ch = FakeClickHouse(lambda _sql, _params: answer)
    clock = ManualClock(NOW)
    if cls is LatencyCheck:
        return LatencyCheck(ch, "market", threshold_s=5, interval_s=15, clock=clock).run()[0]
    return DeadLetterRateCheck(ch, "ops", threshold=1, interval_s=10, clock=clock).run()[0]


def test_latency_p99_grades_against_the_threshold() -> None:
    assert rates([(1000, 0.2)], LatencyCheck).status is Status.OK
    assert rates([(1000, 6.0)], LatencyCheck).status is Status.WARN
    assert rates([(1000, 11.0)], LatencyCheck).status is Status.CRIT
    idle = rates([(0, 0.0)], LatencyCheck)
    assert idle.status is Status.OK and "no trades" in idle.message


def test_dlq_rate_is_per_second_with_top_reasons() -> None:
    ok = rates([(5, [])], DeadLetterRateCheck)
    assert ok.status is Status.OK and ok.value == 0.5
    bad = rates([(50, ["bad_price", "schema"])], DeadLetterRateCheck)
    assert bad.status is Status.WARN and "bad_price" in bad.message
