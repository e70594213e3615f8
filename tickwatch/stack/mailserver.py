"""A local SMTP server (aiosmtpd) that keeps every message it receives as an ``.eml`` file.

Optional STARTTLS (self-signed certificate for localhost / 127.0.0.1) and optional AUTH
PLAIN/LOGIN with one configured user. Use :class:`MailServer` in-process (tests) or run
``python -m tickwatch.stack.mailserver --mail-dir D --port P [--starttls --cert-dir C]
[--auth-user U]`` (the password comes from ``TICKWATCH_SMTP_PASSWORD``) as its own process.
"""

from __future__ import annotations

import argparse
import hmac
import os
import signal
import ssl
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tickwatch.stack import mailbox
from tickwatch.stack.certs import ensure_self_signed
from tickwatch.stack.net import LOOPBACK, ensure_port_free, free_port

PASSWORD_ENV = "TICKWATCH_SMTP_PASSWORD"  # noqa: S105  # a variable's name, not a password


class MailboxHandler:
    """aiosmtpd handler: stores each message in the mail folder, then answers 250."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        mailbox.store(self.mail_dir, raw, str(envelope.mail_from), list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SingleUserAuthenticator:
    """Accepts exactly one login/password pair (compared in constant time)."""

    def __init__(self, user: str, password: str) -> None:
        self._user = user.encode()
        self._password = password.encode()

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = hmac.compare_digest(data.login, self._user) and hmac.compare_digest(
            data.password, self._password
        )
        return AuthResult(success=ok, handled=False)


class MailServer:
    """An SMTP server on ``host:port`` running in a background thread of this process.

    ``port`` 0 picks a free port at the first :meth:`start` and keeps it for restarts.
    ``auth`` = ``(user, password)`` makes AUTH required before MAIL; with ``starttls`` too,
    AUTH is only offered after STARTTLS.
    """

    def __init__(
        self,
        mail_dir: Path,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        starttls: bool = False,
        auth: tuple[str, str] | None = None,
        cert_dir: Path | None = None,
    ) -> None:
        self.mail_dir = mail_dir
        self.host = host
        self.port = port
        self.starttls = starttls
        self.auth = auth
        self.cert_dir = cert_dir or mail_dir.parent / "tls"
        self._controller: Controller | None = None

    @property
    def cert_path(self) -> Path:
        """The self-signed certificate clients should trust when ``starttls`` is on."""
        return self.cert_dir / "cert.pem"

    def start(self) -> None:
        """Listen; blocks until the server answers. Raises ``PortInUseError`` if port is taken."""
        if self._controller is not None:
            return
        self.port = self.port or free_port()
        ensure_port_free(self.port, "smtp")
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        controller = Controller(
            MailboxHandler(self.mail_dir), hostname=self.host, port=self.port, **self._options()
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        """Stop listening (idempotent); blocks until the server thread has ended."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[EmailMessage]:
        """Every message received so far, oldest first."""
        return mailbox.read_all(self.mail_dir)

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"auth_require_tls": self.starttls}
        if self.starttls:
            cert, key = ensure_self_signed(self.cert_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            options["tls_context"] = context
        if self.auth is not None:
            options["authenticator"] = SingleUserAuthenticator(*self.auth)
            options["auth_required"] = True
        return options


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; prints the address once listening."""
    parser = argparse.ArgumentParser(description="Local SMTP server storing mail as .eml files.")
    parser.add_argument("--mail-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--cert-dir", type=Path, default=None)
    parser.add_argument("--auth-user", default="", help=f"password: env {PASSWORD_ENV}")
    args = parser.parse_args(argv)
    auth = (args.auth_user, os.environ.get(PASSWORD_ENV, "")) if args.auth_user else None
    server = MailServer(
        args.mail_dir, port=args.port, starttls=args.starttls, auth=auth, cert_dir=args.cert_dir
    )
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    server.start()
    print(f"mail: listening on {server.host}:{server.port}, storing in {args.mail_dir}", flush=True)
    while not stopping.wait(1.0):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
