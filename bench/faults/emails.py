"""What the on-call engineer received: the alert events in a lane's mailbox, and how they
compare with what a fault should have sent.

An alert email's plain-text body lists each event as its key on one line followed by
``  status      FIRING CRIT`` (or ``RESOLVED``, ``FLAPPING``...); see :mod:`alerts.render`.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from tickwatch.stack import mailbox

FIRING, RESOLVED = "FIRING", "RESOLVED"


@dataclass(frozen=True)
class Expected:
    """An event a fault must announce exactly once: the alert key's check (its part before the
    first ``/``) and the verb (``FIRING`` or ``RESOLVED``)."""

    check: str
    verb: str

    def __str__(self) -> str:
        return f"{self.verb} {self.check}"


def events(message: EmailMessage) -> list[tuple[str, str]]:
    """(alert key, verb) for every event listed in ``message``."""
    lines = mailbox.body_text(message).splitlines()
    out = []
    for previous, line in itertools.pairwise(lines):
        if line.startswith("  status") and previous and not previous.startswith(" "):
            out.append((previous.strip(), line.split()[1]))
    return out


def received(mail_dir: Path) -> list[tuple[str, str]]:
    """Every (alert key, verb) in the mailbox, oldest email first."""
    return [e for m in mailbox.read_all(mail_dir) for e in events(m)]


def compare(expected: list[Expected], got: list[tuple[str, str]]) -> tuple[int, int, list[str]]:
    """(expected events received exactly once, events expected, notes on the differences).

    An expected event seen twice is a duplicate email; any other event is listed as extra.
    """
    seen = Counter(Expected(key.split("/", 1)[0], verb) for key, verb in got)
    ok, notes = 0, []
    for want in expected:
        n = seen.pop(want, 0)
        ok += n == 1
        if n != 1:
            notes.append(f"{want}: received {n}x")
    notes += [f"extra {e} x{n}" for e, n in seen.items()]
    return ok, len(expected), notes


class MailWatch:
    """Polls a mailbox for the first arrival of each expected event (the time to detect)."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir
        self.first_seen: dict[Expected, float] = {}

    def poll(self) -> None:
        now = time.time()
        for key, verb in received(self.mail_dir):
            self.first_seen.setdefault(Expected(key.split("/", 1)[0], verb), now)

    def has(self, want: Expected) -> bool:
        self.poll()
        return want in self.first_seen
