"""Silences (one-off mutes) and their small text syntax; weekly windows are in ``windows.py``.

An alert key is ``check/target`` (e.g. ``consumer_lag/tickwatch-load/ticks.trades``); a MATCHER is
a shell-style glob over it (``*`` = everything, ``freshness/*``, ``heartbeat/ingest``).

``alerts.silences`` — entries separated by ``;``::

    MATCHER until END
    MATCHER from START until END

START/END are ISO 8601 times (``2026-11-21T08:00Z``, ``2026-11-21 08:00+01:00``); no offset = UTC.

A silenced alert still changes state and is recorded in ``ops.alert_events``; only its email is
held back (and sent at the next repeat once the silence ends, if the alert is still open).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from alerts.errors import SilenceSyntaxError

_SILENCE = re.compile(r"^(?P<m>\S+)\s+(?:from\s+(?P<s>.+?)\s+)?until\s+(?P<e>.+)$", re.I)


@dataclass(frozen=True, slots=True)
class Silence:
    """Mute alerts whose key matches ``matcher`` between ``starts`` and ``ends`` (epoch s)."""

    matcher: str
    starts: float
    ends: float
    comment: str = ""
    id: str = ""
    created_by: str = "config"

    def active(self, key: str, now: float) -> bool:
        return self.starts <= now < self.ends and fnmatchcase(key, self.matcher)


def parse_time(text: str) -> float:
    """ISO 8601 → epoch seconds; naive times are UTC. Raises SilenceSyntaxError."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise SilenceSyntaxError(f"{text!r}: not an ISO 8601 time ({exc})") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def parse_silences(spec: str) -> list[Silence]:
    """Parse ``alerts.silences``; without START a silence is active until END."""
    out = []
    for entry in entries(spec):
        m = _SILENCE.match(entry)
        if not m:
            raise SilenceSyntaxError(
                f"TICKWATCH_ALERTS_SILENCES: {entry!r}: expected "
                "'MATCHER until END' or 'MATCHER from START until END'"
            )
        starts = parse_time(m["s"]) if m["s"] else 0.0
        out.append(Silence(m["m"], starts, parse_time(m["e"]), comment="config"))
    return out


def entries(spec: str) -> list[str]:
    """The ``;``-separated, non-empty entries of a spec."""
    return [e.strip() for e in spec.split(";") if e.strip()]


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1d``, or combined ``1h30m``. Raises SilenceSyntaxError."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise SilenceSyntaxError(f"{text!r}: expected a duration such as 90s, 30m, 2h, 1h30m, 1d")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return timedelta(seconds=sum(float(n) * unit[u] for n, u in parts))
