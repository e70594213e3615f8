"""Alert emails: one :class:`Notification` per group of events, with a plain-text and an HTML body.

Each event says what is wrong (check, target, severity), since when, value vs threshold, the
detail the check reported (which partitions or symbols), the runbook's first step for the check,
and a Grafana link covering the time since the alert began.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass

from alerts.events import AlertEvent, EventKind
from alerts.runbook import dashboard, first_step
from tickwatch.clock import utc
from tickwatch.sanitize import clean

_VERB = {
    EventKind.OPEN: "FIRING",
    EventKind.REPEAT: "STILL FIRING",
    EventKind.SEVERITY: "ESCALATED",
    EventKind.RESOLVE: "RESOLVED",
    EventKind.FLAPPING: "FLAPPING",
    EventKind.INHIBITED: "INHIBITED",
}


@dataclass(frozen=True, slots=True)
class Notification:
    """A rendered email; ``id`` doubles as the Message-ID so a retry is the same message."""

    id: str
    created: float
    subject: str
    text: str
    html: str
    alert_keys: tuple[str, ...]


def grafana_link(base: str, event: AlertEvent) -> str:
    """The check's dashboard, from 15 minutes before the alert began to now (or the resolve)."""
    start_ms = int((event.since - 900) * 1000)
    end = "now" if event.kind is not EventKind.RESOLVE else str(int((event.time + 300) * 1000))
    return f"{base.rstrip('/')}/d/{dashboard(event.check)}?from={start_ms}&to={end}"


def subject(events: list[AlertEvent]) -> str:
    firing = [e for e in events if e.kind is not EventKind.RESOLVE]
    resolved = len(events) - len(firing)
    head = firing[0] if firing else events[0]
    key = clean(head.key, 300)
    if head.kind is EventKind.FLAPPING:
        label = f"FLAPPING {key}"
    else:
        label = f"{head.severity.name} {key}" if firing else f"RESOLVED {key}"
    more = len(events) - 1
    tail = f" (+{more} more: {len(firing)} firing, {resolved} resolved)" if more else ""
    return f"[tickwatch] {label}{tail}"


def _fields(e: AlertEvent) -> list[tuple[str, str]]:
    when = f"{utc(e.since):%Y-%m-%d %H:%M:%S} UTC"
    out = [
        ("status", f"{_VERB[e.kind]} {e.severity.name if e.kind != EventKind.RESOLVE else ''}"),
        (
            "since",
            when
            if e.kind is not EventKind.RESOLVE
            else f"{when}, resolved {utc(e.time):%H:%M:%S} UTC ({e.time - e.since:.0f}s)",
        ),
        ("value", f"{e.value:.4g} (threshold {e.threshold:.4g})"),
        ("detail", e.message),
    ]
    if e.kind is not EventKind.RESOLVE:
        out.append(("look first", first_step(e.check)))
    return out


def render(events: list[AlertEvent], grafana_url: str, now: float) -> Notification:
    """Render one email for ``events`` (non-empty, in the order they happened)."""
    text_parts, html_parts = [], []
    for e in events:
        link = grafana_link(grafana_url, e)
        rows = [*_fields(e), ("grafana", link)]
        text_parts.append(f"{clean(e.key)}\n" + "\n".join(f"  {k:<11} {v}" for k, v in rows))
        cells = "".join(
            f"<tr><th align=left>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in rows[:-1]
        )
        html_parts.append(
            f"<h3>{html.escape(e.key)}</h3><table>{cells}<tr><th align=left>grafana</th>"
            f'<td><a href="{html.escape(link)}">dashboard</a></td></tr></table>'
        )
    title = subject(events)
    text = f"{title}\n\n" + "\n\n".join(text_parts) + "\n\n-- tickwatch downtime detector\n"
    body = (
        f"<html><body><h2>{html.escape(title)}</h2>{''.join(html_parts)}"
        "<p><small>tickwatch downtime detector</small></p></body></html>"
    )
    return Notification(
        f"tickwatch-{int(now)}-{secrets.token_hex(6)}",
        now,
        title,
        text,
        body,
        tuple(dict.fromkeys(clean(e.key) for e in events)),
    )


def fallback(n: Notification, reason: str, now: float) -> Notification:
    """A plain-text email saying that ``n`` could not be sent, naming it (all values cleaned)."""
    keys = ", ".join(clean(k, 200) for k in n.alert_keys) or "-"
    title = "[tickwatch] an alert email could not be sent and was quarantined"
    text = (
        f"{title}\n\n  id          {clean(n.id, 100)}\n  subject     {clean(n.subject, 300)}\n"
        f"  alert keys  {keys}\n  reason      {clean(reason, 500)}\n\n"
        "Its alerts are still tracked; see ops.alert_events and the detector's log.\n"
        "\n-- tickwatch downtime detector\n"
    )
    return Notification(f"{clean(n.id, 100)}-fallback", now, title, text, "", tuple(
        clean(k) for k in n.alert_keys))  # fmt: skip
