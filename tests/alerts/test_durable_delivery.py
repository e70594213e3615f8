"""Durable alert delivery (issue 12 #6): what the notifier holds is in the snapshot before a
submit returns, SIGTERM dispatches what is pending, a RESOLVED is never lost, and mail held by
the hourly limit is merged and sent later — also across a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alerts.mailer import SmtpSender
from tickwatch.clock import ManualClock
from tickwatch.settings import SmtpSettings

from .detector_scenarios import Mailbox, deliver, feed, make_detector, restart, sigterm


@pytest.mark.smtp
def test_open_submitted_within_group_wait_of_a_crash_is_emailed_after_restart(
    tmp_path: Path, smtp_server: Callable[..., Any]
) -> None:
    server = smtp_server()
    smtp = SmtpSettings(host=server.host, port=server.port, recipients="oncall@example.test")
    sender = SmtpSender(smtp, server.host, server.port)
    clock = ManualClock(1_800_000_000.0)
    first, _ = make_detector(tmp_path, sender, clock, group_wait_s=30)
    feed(first, clock, "CC")  # OPEN accepted, waiting for its group wait; no flush, no stop
    assert first.notifier.pending == 1
    del first  # kill -9: nothing else runs

    second, _ = restart(tmp_path, sender, clock, group_wait_s=30)
    second.outbox.start()
    try:
        assert second.notifier.pending == 1
        deliver(second, clock, 1, server.messages, wait_s=30)
    finally:
        sigterm(second)
    (mail,) = server.messages()
    assert mail["Subject"] == "[tickwatch] CRIT heartbeat/load"


def test_pending_resolved_survives_a_crash(tmp_path: Path) -> None:
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    first, _ = make_detector(tmp_path, box, clock)
    first.outbox.start()
    feed(first, clock, "CC")
    deliver(first, clock, 1, lambda: box.sent)
    feed(first, clock, "OO")  # RESOLVE accepted, the process dies before its group wait ends
    first.outbox.stop(0.5)

    second, _ = restart(tmp_path, box, clock)
    second.outbox.start()
    try:
        deliver(second, clock, 2, lambda: box.sent)
    finally:
        sigterm(second)
    assert [n.subject for n in box.sent] == [
        "[tickwatch] CRIT heartbeat/load",
        "[tickwatch] RESOLVED heartbeat/load",
    ]


def test_sigterm_dispatches_the_pending_group_without_waiting(tmp_path: Path) -> None:
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    d, _ = make_detector(tmp_path, box, clock, group_wait_s=60)
    d.outbox.start()
    feed(d, clock, "CC")
    sigterm(d)
    assert [n.subject for n in box.sent] == ["[tickwatch] CRIT heartbeat/load"]
    again, _ = restart(tmp_path, box, clock, group_wait_s=60)
    assert again.notifier.pending == 0 and again.outbox.pending == 0  # sent once, not again


def test_mail_held_by_the_hourly_limit_is_merged_and_sent_after_a_restart(tmp_path: Path) -> None:
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    first, _ = make_detector(tmp_path, box, clock, max_emails_per_hour=1, repeat_interval_s=7200)
    first.outbox.start()
    feed(first, clock, "CC", target="a")
    deliver(first, clock, 1, lambda: box.sent)
    feed(first, clock, "CC", target="b")
    feed(first, clock, "CC", target="c")
    clock.advance(1)
    first.dispatch()  # over the limit: held
    sigterm(first)  # the limit still holds at shutdown: kept in the snapshot, not dropped
    assert len(box.sent) == 1

    second, _ = restart(tmp_path, box, clock, max_emails_per_hour=1, repeat_interval_s=7200)
    second.outbox.start()
    try:
        second.dispatch()
        assert second.outbox.pending == 0 and len(box.sent) == 1  # the restart kept the limit
        deliver(second, clock, 2, lambda: box.sent, wait_s=3600)
    finally:
        sigterm(second)
    held = box.sent[1]
    assert held.alert_keys == ("heartbeat/b", "heartbeat/c")
    assert "+1 more" in held.subject
