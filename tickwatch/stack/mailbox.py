"""The folder of received mail: one ``.eml`` file per message, named in arrival order.

Writers put a message in ``<mail_dir>/tmp/`` and rename it into ``<mail_dir>/`` (as Maildir
does), so readers never see a half-written file.
"""

from __future__ import annotations

import itertools
import os
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

_SEQUENCE = itertools.count()


def store(mail_dir: Path, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> Path:
    """Write one message with its envelope as ``X-Envelope-*`` headers; returns the file."""
    tmp_dir = mail_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{os.getpid()}-{next(_SEQUENCE):06d}.eml"
    envelope = f"X-Envelope-From: {mail_from}\r\nX-Envelope-To: {', '.join(rcpt_tos)}\r\n"
    partial = tmp_dir / name
    partial.write_bytes(envelope.encode() + raw)
    final = mail_dir / name
    partial.replace(final)
    return final


def message_files(mail_dir: Path) -> list[Path]:
    """The stored messages, oldest first (empty if the folder does not exist)."""
    if not mail_dir.is_dir():
        return []
    return sorted(mail_dir.glob("*.eml"))


def parse(path: Path) -> EmailMessage:
    """One stored message as an :class:`EmailMessage` (modern email policy)."""
    with path.open("rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    assert isinstance(message, EmailMessage)
    return message


def read_all(mail_dir: Path) -> list[EmailMessage]:
    """Every stored message, parsed, oldest first."""
    return [parse(path) for path in message_files(mail_dir)]


def body_text(message: EmailMessage) -> str:
    """The plain-text body (or the HTML one if there is no plain part; empty if neither)."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""
