"""The local SMTP server: storage, STARTTLS with its self-signed certificate, AUTH."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from tickwatch.stack import mailbox
from tickwatch.stack.errors import PortInUseError
from tickwatch.stack.mailserver import MailServer
from tickwatch.stack.net import accepts_connections, free_port, wait_until

pytestmark = pytest.mark.smtp
CREDENTIALS = ("alerts", "s3cret")


def _send(message: EmailMessage, **options: Any) -> None:
    asyncio.run(aiosmtplib.send(message, **options))


def _message(subject: str, body: str = "lag is 120 s") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "tickwatch@localhost"
    message["To"] = "oncall@localhost"
    message["Subject"] = subject
    message.set_content(body)
    return message


def test_plain_delivery_is_stored_as_eml(smtp_server: Callable[..., Any]) -> None:
    server = smtp_server()
    _send(_message("[CRIT] consumer lag"), hostname=server.host, port=server.port)
    (received,) = server.messages()
    assert received["Subject"] == "[CRIT] consumer lag"
    assert received["X-Envelope-To"] == "oncall@localhost"
    assert mailbox.body_text(received).strip() == "lag is 120 s"
    assert len(list(server.mail_dir.glob("*.eml"))) == 1
    assert not list((server.mail_dir / "tmp").iterdir())


def test_starttls_and_auth(smtp_server: Callable[..., Any]) -> None:
    server = smtp_server(starttls=True, auth=CREDENTIALS)
    context = ssl.create_default_context(cafile=str(server.cert_path))
    _send(
        _message("secure"),
        hostname=server.host,
        port=server.port,
        start_tls=True,
        tls_context=context,
        username="alerts",
        password=CREDENTIALS[1],
    )
    assert [m["Subject"] for m in server.messages()] == ["secure"]


def test_wrong_password_is_refused(smtp_server: Callable[..., Any]) -> None:
    server = smtp_server(starttls=True, auth=CREDENTIALS)
    context = ssl.create_default_context(cafile=str(server.cert_path))
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        _send(
            _message("nope"),
            hostname=server.host,
            port=server.port,
            start_tls=True,
            tls_context=context,
            username="alerts",
            password=CREDENTIALS[1] + "x",
        )
    assert server.messages() == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_auth_required_without_login(smtp_server: Callable[..., Any]) -> None:
    server = smtp_server(auth=CREDENTIALS)
    with pytest.raises(aiosmtplib.SMTPResponseException):
        _send(_message("anonymous"), hostname=server.host, port=server.port)
    assert server.messages() == []


def test_restart_keeps_port_and_mail(smtp_server: Callable[..., Any]) -> None:
    server = smtp_server()
    _send(_message("one"), hostname=server.host, port=server.port)
    port = server.port
    server.stop()
    server.start()
    assert server.port == port
    _send(_message("two"), hostname=server.host, port=server.port)
    assert [m["Subject"] for m in server.messages()] == ["one", "two"]


def test_port_taken_is_a_clear_error(smtp_server: Callable[..., Any], tmp_path: Path) -> None:
    first = smtp_server()
    second = MailServer(tmp_path / "other", port=first.port)
    with pytest.raises(PortInUseError, match=f"port 127.0.0.1:{first.port} is already in use"):
        second.start()


def test_runs_as_its_own_process(tmp_path: Path) -> None:
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, "-m", "tickwatch.stack.mailserver", "--mail-dir", str(tmp_path / "mail"),
         "--port", str(port)],
    )  # fmt: skip
    try:
        assert wait_until(lambda: accepts_connections(port), 30)
        _send(_message("from afar"), hostname="127.0.0.1", port=port)
        assert [m["Subject"] for m in mailbox.read_all(tmp_path / "mail")] == ["from afar"]
    finally:
        child.terminate()
        assert child.wait(timeout=30) == 0
