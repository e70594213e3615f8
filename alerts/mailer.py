"""Sending one notification by SMTP with aiosmtplib: STARTTLS or implicit TLS, AUTH, timeouts."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import aiosmtplib

from alerts.errors import AlertConfigError, DeliveryFailed
from alerts.render import Notification
from tickwatch.settings import SmtpSettings


def build_message(n: Notification, sender: str, recipients: list[str]) -> EmailMessage:
    """A multipart/alternative email; the Message-ID is derived from ``n.id``."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = n.subject
    msg["Date"] = formatdate(n.created, usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=n.id, domain="tickwatch")
    msg["X-Tickwatch-Alerts"] = ", ".join(n.alert_keys)[:900]
    msg.set_content(n.text)
    msg.add_alternative(n.html, subtype="html")
    return msg


class SmtpSender:
    """Sends through ``host:port`` as configured in :class:`SmtpSettings`.

    ``ca_cert`` (e.g. the local stack's self-signed certificate) is used when the settings name
    none. One call = one attempt; raises :class:`DeliveryFailed` on any SMTP, TLS, network or
    timeout error (retrying is the outbox's job).
    """

    def __init__(
        self, smtp: SmtpSettings, host: str, port: int, *, ca_cert: Path | None = None
    ) -> None:
        if not smtp.recipient_list:
            raise AlertConfigError("TICKWATCH_SMTP_RECIPIENTS: no recipient configured")
        self._smtp, self._host, self._port = smtp, host, port
        self._ca_cert = smtp.ca_cert or ca_cert
        self.recipients = smtp.recipient_list

    async def __call__(self, n: Notification) -> None:
        s = self._smtp
        msg = build_message(n, s.sender, self.recipients)
        try:
            await aiosmtplib.send(
                msg,
                hostname=self._host,
                port=self._port,
                username=s.username or None,
                password=s.password.get_secret_value() or None,
                use_tls=s.tls == "implicit",
                start_tls=s.tls == "starttls",
                validate_certs=s.verify_tls,
                cert_bundle=str(self._ca_cert) if self._ca_cert else None,
                timeout=s.timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
