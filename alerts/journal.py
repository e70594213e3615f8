"""The alert record in ClickHouse: lifecycle events (``ops.alert_events``) and every notification
attempt (``ops.notifications``), buffered so a ClickHouse outage loses nothing up to the bound."""

from __future__ import annotations

from alerts.events import EVENT_COLUMNS, AlertEvent
from alerts.render import Notification
from tickwatch.buffer import BufferedWriter
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import utc

NOTIFICATION_COLUMNS = [
    "time",
    "channel",
    "recipients",
    "subject",
    "alert_keys",
    "status",
    "attempt",
    "error",
]


class Journal:
    """Append-only alert history; :meth:`flush` writes what is queued (never raises)."""

    def __init__(self, handle: ClickHouseHandle, ops_db: str, max_rows: int = 10_000) -> None:
        self.events = BufferedWriter(
            handle, f"{ops_db}.alert_events", EVENT_COLUMNS, max_rows=max_rows
        )
        self.notifications = BufferedWriter(
            handle, f"{ops_db}.notifications", NOTIFICATION_COLUMNS, max_rows=max_rows
        )

    def event(self, event: AlertEvent) -> None:
        self.events.add(event.row())

    def notification(
        self,
        when: float,
        n: Notification,
        recipients: list[str],
        *,
        status: str,
        attempt: int,
        error: str = "",
    ) -> None:
        """``status``: sent | retrying | failed | suppressed (the table's enum)."""
        self.notifications.add(
            [
                utc(when),
                "email",
                recipients,
                n.subject,
                list(n.alert_keys),
                status,
                attempt,
                error[:1000],
            ]
        )

    def flush(self) -> None:
        self.events.flush()
        self.notifications.flush()
