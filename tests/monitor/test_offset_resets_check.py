"""The offset_resets check on the real ClickHouse: CRIT while a reset is in the window, then OK
under the same target, so the alert it opened resolves (the fault matrix found it stayed open)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver.client import Client

from monitor.checks.offset_resets import OffsetResetCheck
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clients import clickhouse_client
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings
from tickwatch.types import Status

pytestmark = pytest.mark.clickhouse

NOW = 1_796_000_000.0
WINDOW_S = 900.0


def _event(client: Client, ops: str, seconds_ago: float, partition: int) -> None:
    client.insert(
        f"{ops}.pipeline_events",
        [[datetime.fromtimestamp(NOW - seconds_ago, UTC), "load", "offset_reset", "t.trades",
          partition, 10, 5, "earliest", "committed 10, read from 5"]],
        column_names=["time", "service", "kind", "topic", "kafka_partition", "expected_offset",
                      "actual_offset", "policy", "detail"],
    )  # fmt: skip


def test_a_reset_alerts_in_its_window_and_resolves_under_the_same_target_after_it(
    ch_settings: ClickHouseSettings, ch_client: Client
) -> None:
    ops = ch_settings.ops_database
    clock = ManualClock(NOW)
    handle = ClickHouseHandle(lambda: clickhouse_client(ch_settings, ch_settings.url))
    check = OffsetResetCheck(handle, ops, window_s=WINDOW_S, interval_s=15, clock=clock)
    assert [r.status for r in check.run()] == [Status.OK]  # nothing yet: OK on the table

    _event(ch_client, ops, seconds_ago=60, partition=2)
    (crit,) = check.run()
    assert (crit.target, crit.status, crit.value) == ("t.trades[2]", Status.CRIT, 1.0)

    clock.advance(WINDOW_S)  # the reset leaves the window: the same target reports OK
    (ok,) = check.run()
    assert (ok.target, ok.status) == ("t.trades[2]", Status.OK)
    assert "committed 10" in ok.message

    clock.advance(WINDOW_S)  # two windows later the target is gone, the table is OK again
    (gone,) = check.run()
    assert (gone.target, gone.status) == (f"{ops}.pipeline_events", Status.OK)
