"""The outbox thread never dies (issue 12 #7): a notification that can never be sent is
quarantined (logged, counted, one plain-text fallback naming it) and the rest go out; it never
stays at the head of the persisted outbox; keys and headers are cleaned of CR/LF."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from alerts.errors import Undeliverable
from alerts.journal import Journal
from alerts.mailer import SmtpSender, build_message
from alerts.outbox import Outbox
from alerts.render import Notification
from monitor.checks.heartbeats import HeartbeatCheck
from monitor.cli import healthy
from monitor.scheduler import build_scheduler
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clients import clickhouse_client
from tickwatch.clock import ManualClock, SystemClock
from tickwatch.settings import ClickHouseSettings, SmtpSettings
from tickwatch.telemetry.catalog import MonitorMetrics
from tickwatch.telemetry.server import serve

from .alert_helpers import RecordingClickHouse, wait_until
from .detector_scenarios import Mailbox, make_detector, restart, sigterm


class PoisonAware(Mailbox):
    """Refuses, for good, every notification whose id is in ``poison`` (or raises ``error``)."""

    def __init__(self, poison: set[str], error: Exception | None = None) -> None:
        super().__init__()
        self.poison, self.error = poison, error

    async def __call__(self, n: Notification) -> None:
        if n.id in self.poison:
            raise self.error or Undeliverable("SMTPDataError: 554 message refused")
        self.sent.append(n)


def note(i: int) -> Notification:
    return Notification(f"n{i}", 0.0, f"subject {i}", "text", "<p>html</p>", (f"k/{i}",))


@pytest.mark.parametrize(
    "error", [None, RuntimeError("a bug in the sender")], ids=["undeliverable", "unexpected"]
)
def test_a_poison_notification_is_quarantined_and_the_rest_go_out(error: Exception | None) -> None:
    box, ch, registry = PoisonAware({"n1"}, error), RecordingClickHouse(), CollectorRegistry()
    journal = Journal(ch, "ops")
    metrics = MonitorMetrics(registry)
    outbox = Outbox(box, journal, ["oncall@x"], max_items=10, retry_initial_s=0.01,
                    retry_max_s=0.05, clock=ManualClock(), metrics=metrics)  # fmt: skip
    for i in (1, 2):
        outbox.put(note(i))
    outbox.start()
    try:
        wait_until(lambda: len(box.sent) == 2)
        assert outbox.alive
        outbox.put(note(3))
        wait_until(lambda: len(box.sent) == 3)
    finally:
        outbox.stop(drain_s=1)
    assert [n.id for n in box.sent] == ["n1-fallback", "n2", "n3"]
    fallback = box.sent[0]
    assert fallback.html == "" and "subject 1" in fallback.text and "k/1" in fallback.text
    assert outbox.undelivered() == [] and outbox.quarantined == 1
    assert registry.get_sample_value("tickwatch_alert_notifications_quarantined_total") == 1
    journal.flush()
    assert ("quarantined", 0) in ch.statuses()


def test_poison_at_the_head_of_the_persisted_outbox_does_not_block_the_next_process(
    tmp_path: Path,
) -> None:
    clock = ManualClock(1_800_000_000.0)
    first, _ = make_detector(tmp_path, Mailbox(), clock)
    for i in (1, 2):
        first.outbox.put(note(i))
    first.save()  # the crash leaves n1 at the head of the persisted outbox
    box = PoisonAware({"n1"})
    second, _ = restart(tmp_path, box, clock)
    second.outbox.start()
    try:
        wait_until(lambda: len(box.sent) == 2)
        # the quarantine and each delivery are persisted as they happen
        wait_until(lambda: restart(tmp_path, box, clock)[0].outbox.undelivered() == [])
    finally:
        sigterm(second)
    assert [n.id for n in box.sent] == ["n1-fallback", "n2"]


def test_headers_are_cleaned_of_cr_lf_and_control_characters() -> None:
    n = Notification("id\r\n1", 0.0, "[tickwatch] CRIT heartbeat/load\r\nBcc: x@evil.test",
                     "text", "", ("heartbeat/load\r\nBcc: x@evil.test\x1b[31m",))  # fmt: skip
    msg = build_message(n, "tickwatch@localhost\r\n", ["oncall@example.test"])
    assert msg["Bcc"] is None
    assert msg["Subject"] == "[tickwatch] CRIT heartbeat/load Bcc: x@evil.test"
    assert msg["X-Tickwatch-Alerts"] == "heartbeat/load Bcc: x@evil.test [31m"
    assert msg.get_content_type() == "text/plain"  # no HTML part when there is none


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback URL)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.clickhouse
@pytest.mark.smtp
def test_cr_lf_in_a_heartbeat_service_still_sends_email_and_healthz_tells_the_truth(
    tmp_path: Path, ch_settings: ClickHouseSettings, smtp_server: Callable[..., Any]
) -> None:
    handle = ClickHouseHandle(lambda: clickhouse_client(ch_settings, ch_settings.url))
    now = datetime.now(tz=UTC)
    evil = "load\r\nBcc: attacker@example.test"
    columns = ["time", "service", "instance", "host", "pid", "started", "status", "details"]
    row: list[object] = [now, evil, "h:1", "h", 1, now, "unhealthy", {}]
    handle.insert(f"{ch_settings.ops_database}.heartbeats", [row], columns)
    server = smtp_server()
    smtp = SmtpSettings(host=server.host, port=server.port, recipients="oncall@example.test")
    clock = SystemClock()
    d, registry = make_detector(tmp_path, SmtpSender(smtp, server.host, server.port), clock,
                                ch=handle, clickhouse=ch_settings, group_wait_s=0.2)  # fmt: skip
    check = HeartbeatCheck(handle, ch_settings.ops_database, ["ingest"], timeout_s=60,
                           interval_s=0.5, clock=clock)  # fmt: skip
    scheduler = build_scheduler([check], d, clock)
    http = serve(registry, "127.0.0.1", 0, lambda: healthy(scheduler, d))
    d.outbox.start()
    scheduler.start()
    try:
        deadline = time.monotonic() + 60
        while len(server.messages()) < 1:
            assert time.monotonic() < deadline, "no alert email"
            time.sleep(0.05)
        assert _status(f"{http.url}/healthz") == 200
        scheduler.shutdown(wait=True)
        sigterm(d)
        assert _status(f"{http.url}/healthz") == 503  # neither runs any more
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        http.close()
    mails = server.messages()
    keys = " ".join(str(m["X-Tickwatch-Alerts"]) for m in mails)
    assert "heartbeat/load Bcc: attacker@example.test" in keys
    assert all(m["Bcc"] is None and "\n" not in str(m["Subject"]) for m in mails)
    assert d.outbox.quarantined == 0
