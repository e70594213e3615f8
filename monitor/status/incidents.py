"""Incidents: one per alert episode (opened → ... → resolved), with its timeline.

Built from the alert history in ClickHouse (``ops.alert_events``, ``ops.notifications``) and the
detector's in-memory open alerts, which are authoritative for "open now": an alert opened a
moment ago whose event is still buffered (or ClickHouse is down) is an incident all the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from alerts.state import AlertState
from monitor.status.history import EventRow, NotificationRow

EARLY_S = 5.0  # a notification may be stamped a moment before its event row
LATE_S = 300.0  # the resolve email follows the resolve by group_wait plus SMTP time

_EVENT_TEXT = {
    "open": "opened",
    "repeat": "still failing (repeat)",
    "severity_change": "severity changed",
    "resolve": "resolved",
}
_EMAIL_TEXT = {
    "sent": "email sent",
    "retrying": "email delivery failed, retrying",
    "failed": "email delivery failed",
    "suppressed": "email held back",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of an incident's timeline."""

    time: float
    kind: str
    text: str


@dataclass
class Incident:
    key: str
    opened: float
    severity: str
    resolved: float | None = None
    open: bool = False
    emails_sent: int = 0
    timeline: list[Entry] = field(default_factory=list)

    def covers(self, when: float, now: float) -> bool:
        end = (self.resolved if self.resolved is not None else now) + LATE_S
        return self.opened - EARLY_S <= when <= end


def build_incidents(
    events: Iterable[EventRow],
    notifications: Iterable[NotificationRow],
    open_alerts: Iterable[AlertState],
    now: float,
) -> list[Incident]:
    """Incidents, newest first. ``events`` must be in time order."""
    incidents: list[Incident] = []
    current: dict[str, Incident] = {}
    for e in events:
        incident = current.get(e.key)
        if incident is None or e.kind == "open" or incident.resolved is not None:
            incident = Incident(e.key, e.since if e.kind != "open" else e.time, e.severity)
            incidents.append(incident)
            current[e.key] = incident
        text = f"{_EVENT_TEXT.get(e.kind, e.kind)}: {e.severity} — {e.message}"
        incident.timeline.append(Entry(e.time, e.kind, text))
        if e.kind == "resolve":
            incident.resolved = e.time
        else:
            incident.severity = e.severity
    _attach_open(incidents, current, list(open_alerts))
    for n in notifications:
        _attach_email(incidents, n, now)
    for incident in incidents:
        incident.timeline.sort(key=lambda entry: entry.time)
    return sorted(incidents, key=lambda i: i.opened, reverse=True)


def _attach_open(
    incidents: list[Incident], current: dict[str, Incident], open_alerts: list[AlertState]
) -> None:
    for state in open_alerts:
        incident = current.get(state.key)
        if incident is None or incident.resolved is not None:
            incident = Incident(state.key, state.since, state.severity.name)
            message = state.last.message if state.last else ""
            text = f"opened: {state.severity.name} — {message} (not yet in the history)"
            incident.timeline.append(Entry(state.since, "open", text))
            incidents.append(incident)
        incident.open, incident.severity = True, state.severity.name


def _attach_email(incidents: list[Incident], n: NotificationRow, now: float) -> None:
    for key in n.keys:
        match = next((i for i in reversed(incidents) if i.key == key and i.covers(n.time, now)),
                     None)  # fmt: skip
        if match is None:
            continue
        detail = f": {n.error}" if n.error and n.status != "sent" else ""
        text = f"{_EMAIL_TEXT.get(n.status, n.status)} “{n.subject}”{detail}"
        match.timeline.append(Entry(n.time, f"email_{n.status}", text))
        if n.status == "sent":
            match.emails_sent += 1
