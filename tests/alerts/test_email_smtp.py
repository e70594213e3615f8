"""Real email through aiosmtpd: STARTTLS + AUTH, and SMTP down then up (late, exactly once)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from alerts.events import AlertEvent, EventKind
from alerts.journal import Journal
from alerts.mailer import SmtpSender
from alerts.outbox import Outbox
from alerts.render import render
from tickwatch.clock import SystemClock
from tickwatch.settings import SmtpSettings
from tickwatch.types import Status

from .alert_helpers import RecordingClickHouse, wait_until

pytestmark = pytest.mark.smtp

USER = ("tickwatch", "s3cret-pw")


def alert(kind: EventKind = EventKind.OPEN) -> AlertEvent:
    return AlertEvent(
        1_800_000_100.0, "heartbeat/load", "heartbeat", "load", kind, Status.CRIT,
        1_800_000_000.0, 100.0, 30.0, "no live load worker: last heartbeat 100s ago",
    )  # fmt: skip


def sender_for(server: Any, **overrides: Any) -> SmtpSender:
    fields: dict[str, Any] = {
        "host": server.host, "port": server.port, "tls": "starttls", "ca_cert": server.cert_path,
        "username": USER[0], "password": USER[1], "timeout_s": 5,
        "recipients": "oncall@example.test, lead@example.test",
    }  # fmt: skip
    smtp = SmtpSettings(**(fields | overrides))
    return SmtpSender(smtp, server.host, server.port)


def test_real_email_with_starttls_and_auth(smtp_server: Callable[..., Any]) -> None:
    import asyncio

    server = smtp_server(starttls=True, auth=USER)
    note = render([alert()], "http://127.0.0.1:3000", 1_800_000_101.0)
    asyncio.run(sender_for(server)(note))
    (msg,) = server.messages()
    assert msg["Subject"] == "[tickwatch] CRIT heartbeat/load"
    assert msg["To"] == "oncall@example.test, lead@example.test"
    body = msg.get_body(("plain",))
    assert body is not None and "no live load worker" in body.get_content()
    html = msg.get_body(("html",))
    assert html is not None and "tickwatch-pipeline" in html.get_content()


def test_wrong_password_is_a_delivery_failure(smtp_server: Callable[..., Any]) -> None:
    import asyncio

    from alerts.errors import DeliveryFailed

    server = smtp_server(starttls=True, auth=USER)
    note = render([alert()], "http://g", 1.0)
    with pytest.raises(DeliveryFailed):
        asyncio.run(sender_for(server, username="tickwatch", password="wrong")(note))  # noqa: S106
    assert server.messages() == []


def test_smtp_down_then_up_email_arrives_late_and_exactly_once(
    smtp_server: Callable[..., Any],
) -> None:
    server = smtp_server(starttls=True, auth=USER)
    server.stop()
    ch = RecordingClickHouse()
    journal = Journal(ch, "ops")
    outbox = Outbox(
        sender_for(server), journal, ["oncall@example.test"], max_items=10,
        retry_initial_s=0.05, retry_max_s=0.2, clock=SystemClock(),
    )  # fmt: skip
    outbox.start()
    try:
        outbox.put(render([alert()], "http://g", 1.0))

        def journal_rows() -> list[tuple[str, int]]:
            journal.flush()
            return ch.statuses()

        wait_until(lambda: journal_rows().count(("retrying", 2)) == 1)
        server.start()  # same port
        wait_until(lambda: outbox.pending == 0)
    finally:
        outbox.stop(drain_s=1)
    assert len(server.messages()) == 1
    statuses = journal_rows()
    assert [s for s, _ in statuses].count("sent") == 1
    assert statuses[-1][0] == "sent" and statuses[-1][1] >= 3


# aiosmtpd only knows STARTTLS as "TLS"; here the whole session is TLS from the first byte
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_real_email_over_implicit_tls_with_auth(tmp_path: Path) -> None:
    """Implicit TLS (SMTPS) has no fixture server: an aiosmtpd Controller wrapped in TLS here."""
    import asyncio
    import ssl

    from aiosmtpd.controller import Controller

    from tickwatch.stack.certs import ensure_self_signed
    from tickwatch.stack.mailserver import MailboxHandler, SingleUserAuthenticator
    from tickwatch.stack.net import free_port

    cert, key = ensure_self_signed(tmp_path / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    controller = Controller(
        MailboxHandler(tmp_path / "mail"), hostname="127.0.0.1", port=port, ssl_context=context,
        authenticator=SingleUserAuthenticator(*USER), auth_required=True,
        auth_require_tls=False,  # the whole session is TLS; aiosmtpd only tracks STARTTLS
    )  # fmt: skip
    controller.start()
    try:
        smtp = SmtpSettings(host="127.0.0.1", port=port, tls="implicit", ca_cert=cert,
                            username=USER[0], password=USER[1], timeout_s=5)  # fmt: skip
        note = render([alert()], "http://g", 1.0)
        asyncio.run(SmtpSender(smtp, "127.0.0.1", port)(note))
    finally:
        controller.stop()
    from tickwatch.stack import mailbox

    (msg,) = mailbox.read_all(tmp_path / "mail")
    assert msg["Subject"] == "[tickwatch] CRIT heartbeat/load"
