"""Sending one notification by SMTP with aiosmtplib: STARTTLS or implicit TLS, AUTH, timeouts."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import aiosmtplib

from alerts.errors import AlertConfigError, DeliveryFailed, Undeliverable
from alerts.render import Notification
from tickwatch.sanitize import clean
from tickwatch.settings import SmtpSettings


def build_message(n: Notification, sender: str, recipients: list[str]) -> EmailMessage:
    """A multipart/alternative email (text only when ``n.html`` is empty); the Message-ID is
    derived from ``n.id``. Every header value is cleaned of CR/LF and control characters.

    Raises :class:`Undeliverable` when no valid message can be built from ``n``.
    """
    try:
        msg = EmailMessage()
        msg["From"] = clean(sender)
        msg["To"] = clean(", ".join(recipients))
        msg["Subject"] = clean(n.subject)
        msg["Date"] = formatdate(n.created, usegmt=True)
        msg["Message-ID"] = make_msgid(idstring=clean(n.id, 100), domain="tickwatch")
        msg["X-Tickwatch-Alerts"] = clean(", ".join(clean(k) for k in n.alert_keys))
        msg.set_content(n.text)
        if n.html:
            msg.add_alternative(n.html, subtype="html")
    except (ValueError, TypeError, LookupError) as exc:  # email's header/body errors
        raise Undeliverable(f"cannot build the email: {type(exc).__name__}: {exc}") from exc
    return msg


class SmtpSender:
    """Sends through ``host:port`` as configured in :class:`SmtpSettings`.

    ``ca_cert`` (e.g. the local stack's self-signed certificate) is used when the settings name
    none. One call = one attempt; raises :class:`DeliveryFailed` on any SMTP, TLS, network or
    timeout error (retrying is the outbox's job), :class:`Undeliverable` when the message
    cannot be built or the server refuses every recipient or the data for good (5xx).
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
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPDataError) as exc:
            if _permanent(exc):
                raise Undeliverable(f"{type(exc).__name__}: {exc}") from exc
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc


def _permanent(exc: aiosmtplib.SMTPException) -> bool:
    """A 5xx reply to the data, or to every recipient (RFC 5321 §4.2.1: permanent failure)."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(500 <= r.code < 600 for r in exc.recipients)
    code = getattr(exc, "code", 0)
    return isinstance(code, int) and 500 <= code < 600
