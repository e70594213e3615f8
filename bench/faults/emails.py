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

    An expected event is met when at least one alert key of its check was announced with its
    verb and every such key exactly once (a check may alert per topic). Events of checks the
    fault does not expect are listed as extra.
    """
    seen = Counter(got)
    ok, notes = 0, []
    for want in expected:
        keys = {
            key: n
            for (key, verb), n in seen.items()
            if verb == want.verb and _check(key) == want.check
        }
        twice = {key: n for key, n in keys.items() if n != 1}
        ok += bool(keys) and not twice
        if not keys:
            notes.append(f"{want}: received 0x")
        notes += [f"{want.verb} {key}: received {n}x" for key, n in twice.items()]
    wanted = {e.check for e in expected}  # an expected check may also escalate or repeat
    notes += [f"extra {verb} {key} x{n}" for (key, verb), n in seen.items()
              if _check(key) not in wanted]  # fmt: skip
    return ok, len(expected), notes


def _check(key: str) -> str:
    return key.split("/", 1)[0]


class MailWatch:
    """Polls a mailbox for the first arrival of each expected event (the time to detect)."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir
        self.first_seen: dict[Expected, float] = {}

    def poll(self) -> None:
        now = time.time()
        for key, verb in received(self.mail_dir):
            self.first_seen.setdefault(Expected(_check(key), verb), now)

    def has(self, want: Expected) -> bool:
        self.poll()
        return want in self.first_seen
