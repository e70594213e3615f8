"""The new alert history values (migration 0008) on the real, migrated ClickHouse: ``flapping``
and ``inhibited`` events, ``quarantined`` notifications."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client

from alerts.events import AlertEvent, EventKind
from alerts.journal import Journal
from alerts.render import Notification
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clients import clickhouse_client
from tickwatch.settings import ClickHouseSettings
from tickwatch.types import Status

pytestmark = pytest.mark.clickhouse


def test_flapping_inhibited_and_quarantined_rows_are_accepted(
    ch_client: Client, ch_settings: ClickHouseSettings
) -> None:
    handle = ClickHouseHandle(lambda: clickhouse_client(ch_settings, ch_settings.url))
    ops = ch_settings.ops_database
    journal = Journal(handle, ops)
    for kind in (EventKind.FLAPPING, EventKind.INHIBITED):
        journal.event(AlertEvent(1_800_000_000.0, "heartbeat/load", "heartbeat", "load", kind,
                                 Status.CRIT, 1_799_999_990.0, 90.0, 30.0, kind.value))  # fmt: skip
    note = Notification("n1", 1_800_000_000.0, "s", "t", "", ("heartbeat/load",))
    journal.notification(1_800_000_000.0, note, ["oncall@x"], status="quarantined", attempt=0,
                         error="Undeliverable: cannot build the email")  # fmt: skip
    journal.flush()
    events = ch_client.query(f"SELECT event FROM {ops}.alert_events ORDER BY event").result_rows
    assert events == [("flapping",), ("inhibited",)]
    sent = ch_client.query(f"SELECT status FROM {ops}.notifications").result_rows
    assert sent == [("quarantined",)]
