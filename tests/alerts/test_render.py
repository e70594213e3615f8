"""Alert emails say what, since when, value vs threshold, which targets, what to look at first."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts.events import AlertEvent, EventKind
from alerts.mailer import build_message
from alerts.render import render
from tickwatch.types import Status

SINCE = datetime(2026, 11, 21, 6, 0, tzinfo=UTC).timestamp()


def event(kind: EventKind, severity: Status = Status.CRIT) -> AlertEvent:
    return AlertEvent(
        SINCE + 12, "consumer_lag/load/ticks.trades", "consumer_lag", "load/ticks.trades", kind,
        severity, SINCE, 12.5, 30.0, "total lag 900 offsets; p0: stalled, lag 300 <b>",
    )  # fmt: skip


def test_firing_email_has_everything_the_on_call_needs() -> None:
    n = render([event(EventKind.OPEN)], "http://127.0.0.1:3000/", SINCE + 13)
    assert n.subject == "[tickwatch] CRIT consumer_lag/load/ticks.trades"
    assert "2026-11-21 06:00:00 UTC" in n.text
    assert "12.5 (threshold 30)" in n.text
    assert "p0: stalled" in n.text
    assert "look first" in n.text and "load worker" in n.text
    link = "http://127.0.0.1:3000/d/tickwatch-pipeline?from=" + str(int((SINCE - 900) * 1000))
    assert link in n.text and link in n.html
    assert "lag 300 &lt;b&gt;" in n.html and "lag 300 <b>" not in n.html


def test_grouped_email_subject_counts_firing_and_resolved() -> None:
    resolved = event(EventKind.RESOLVE, Status.OK)
    n = render([event(EventKind.OPEN), resolved], "http://g", SINCE + 20)
    assert n.subject.endswith("(+1 more: 1 firing, 1 resolved)")
    only_resolved = render([resolved], "http://g", SINCE + 20)
    assert only_resolved.subject == "[tickwatch] RESOLVED consumer_lag/load/ticks.trades"
    assert "resolved 06:00:12 UTC (12s)" in only_resolved.text


def test_message_is_multipart_with_a_stable_message_id() -> None:
    n = render([event(EventKind.OPEN)], "http://g", SINCE)
    msg = build_message(n, "tickwatch@localhost", ["a@x", "b@x"])
    assert msg["To"] == "a@x, b@x"
    assert n.id in msg["Message-ID"]
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
