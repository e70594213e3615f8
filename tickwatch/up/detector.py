"""``tickwatch up``'s view of the detector, and the incident drill.

:func:`read_detector` asks the running detector's status API (found through
``<state_dir>/status-server.json``) for its checks, open alerts and the emails it sent; it never
raises (a detector that does not answer yet shows as such on the panel).

:class:`IncidentDrill` is what ``tickwatch incident`` triggers (SIGUSR1 to the ``up`` process,
pid in ``<state_dir>/up.json``, duration in ``<state_dir>/incident.json``): the load worker is
stopped for a while and started again, so a newcomer sees the whole loop — lag grows, the alert
email goes out, the worker catches up, the resolved email follows.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tickwatch.status_api import StatusApiError, StatusClient, discover

UP_FILE, DRILL_FILE = "up.json", "incident.json"
DRILL_SIGNAL = signal.SIGUSR1
DEFAULT_DRILL_S = 60.0
EMAILS_SHOWN = 3
PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class DetectorView:
    """What the panel shows of the detector; ``error`` set when its API did not answer."""

    url: str = ""
    checks: tuple[tuple[str, str], ...] = ()  # (key, status)
    alerts: tuple[tuple[str, str, bool], ...] = ()  # (key, severity, muted)
    emails: tuple[tuple[str, str], ...] = ()  # (time, subject) of the newest sent
    emails_sent: int | None = None
    error: str = ""


def read_detector(state_dir: Path) -> DetectorView:
    """The detector's checks, open alerts and emails; never raises."""
    url = discover(state_dir)
    if url is None:
        return DetectorView(error="status API not up yet")
    client = StatusClient(url, timeout_s=PROBE_TIMEOUT_S)
    try:
        checks = client.get("checks")
        alerts = client.get("alerts")
        emails, sent = _emails(client)
    except StatusApiError as exc:
        return DetectorView(url=url, error=str(exc))
    finally:
        client.close()
    return DetectorView(
        url=url,
        checks=tuple((c["key"], c["status"]) for c in checks),
        alerts=tuple((a["key"], a["severity"], a["muted"] is not None) for a in alerts),
        emails=emails,
        emails_sent=sent,
    )


def _emails(client: StatusClient) -> tuple[tuple[tuple[str, str], ...], int | None]:
    """The newest emails sent (time, subject) and how many were sent in the last 24 h."""
    try:
        rows: list[dict[str, Any]] = client.get("emails", limit=500)
    except StatusApiError as exc:
        if exc.status == 503:  # history (ClickHouse) unavailable: no list, count unknown
            return (), None
        raise
    sent = [r for r in rows if r["status"] == "sent"]
    newest = tuple((str(r["time"])[11:19], str(r["subject"])) for r in reversed(sent))
    return newest[:EMAILS_SHOWN], len(sent)


@dataclass
class IncidentDrill:
    """Stops one worker for ``seconds`` on request, then starts it again (driven by ``tick``)."""

    state_dir: Path
    requested: bool = False
    until: float | None = None
    seconds: float = DEFAULT_DRILL_S

    def __call__(self, _signum: int, _frame: Any) -> None:
        """The signal handler: only note the request (the watch loop acts on it)."""
        self.requested = True

    def tick(self, now: float, stop: Callable[[], None], start: Callable[[], None]) -> str:
        """Act on a request or a due restart; returns the panel's drill line ("" when idle)."""
        if self.requested and self.until is None:
            self.requested = False
            self.seconds = _drill_seconds(self.state_dir)
            stop()
            self.until = now + self.seconds
        if self.until is not None and now >= self.until:
            self.until = None
            start()
            return ""
        if self.until is None:
            return ""
        return f"incident drill: load worker stopped, restarts in {self.until - now:.0f} s"


def _drill_seconds(state_dir: Path) -> float:
    try:
        return float(json.loads((state_dir / DRILL_FILE).read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return DEFAULT_DRILL_S


def announce_up(state_dir: Path) -> None:
    """Record this ``up`` process so ``tickwatch incident`` can find it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / UP_FILE).write_text(json.dumps({"pid": os.getpid()}))


def retire_up(state_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_dir / UP_FILE).unlink()


def request_drill(state_dir: Path, seconds: float) -> int:
    """Ask the running ``tickwatch up`` for a drill; returns its pid. Raises LookupError."""
    try:
        pid = int(json.loads((state_dir / UP_FILE).read_text())["pid"])
        (state_dir / DRILL_FILE).write_text(json.dumps({"seconds": seconds}))
        os.kill(pid, DRILL_SIGNAL)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LookupError(
            f"no running `tickwatch up` found in {state_dir} ({type(exc).__name__}: {exc}); "
            "start one with `make run`"
        ) from None
    return pid
