"""Alert state that survives a detector restart, in ``<stack.state_dir>/alerts-state.json``.

Saved whenever the notifier or the outbox accepted or handed on something (before the
detector's ``on_results``/``dispatch`` return), after every delivery, on every flush (2 s) and
at shutdown: the open alerts (severity, since, last result), when each was last announced,
everything the notifier holds (the events waiting for their group wait or held by the rate
limit, and the rate limit's sending history), the email still in the outbox, and the
inhibition state. Loaded at start, so a restart in the middle of an incident neither announces
it a second time nor forgets to announce its resolve, an event accepted just before a crash is
still emailed, and email that SMTP refused before the restart is delivered by the next process,
once. Written atomically (temp file + rename); an unreadable file is logged and ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loguru import logger

from alerts.book import AlertBook
from alerts.notifier import Notifier
from alerts.outbox import Outbox
from alerts.render import Notification
from alerts.state import AlertState
from tickwatch.types import CheckResult, Status

FILE_NAME = "alerts-state.json"


def save(
    path: Path,
    book: AlertBook,
    notifier: Notifier,
    outbox: Outbox,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the snapshot; never raises (a full disk must not stop alerting).

    ``extra``: more JSON-ready state saved beside it (the detector's inhibition state).
    """
    payload = {
        "open": [_state(s) for s in book.open_alerts()],
        "announced": notifier.announced(),
        "notifier": notifier.state(),
        "outbox": [asdict(n) for n in outbox.undelivered()],
        "extra": extra or {},
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".alerts-state.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before the caller acknowledges what it holds
        Path(tmp).replace(path)
        _fsync_dir(path.parent)
    except OSError as exc:
        logger.warning("alert state not saved to {}: {}", path, exc)


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable too (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_extra(path: Path) -> dict[str, Any]:
    """The ``extra`` state of the snapshot at ``path`` ({} when there is none or it is bad)."""
    try:
        extra = json.loads(path.read_text(encoding="utf-8")).get("extra", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return extra if isinstance(extra, dict) else {}


def restore(path: Path, book: AlertBook, notifier: Notifier, outbox: Outbox) -> int:
    """Load a snapshot if there is one; return how many open alerts it held."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        states = [_from_state(item, book) for item in raw.get("open", [])]
        notes = [Notification(**{**n, "alert_keys": tuple(n["alert_keys"])})
                 for n in raw.get("outbox", [])]  # fmt: skip
        announced = {str(k): float(v) for k, v in raw.get("announced", {}).items()}
        held = raw.get("notifier", {})
        notifier.restore_state(held)
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        logger.warning("ignoring unreadable alert state {}: {}", path, exc)
        return 0
    for state in states:
        book.restore(state)
    notifier.restore_announced(announced)
    for note in notes:
        outbox.put(note)
    logger.info("restored {} open alerts, {} held alert events and {} unsent emails",
                len(states), notifier.pending, len(notes))  # fmt: skip
    return len(states)


def _state(s: AlertState) -> dict[str, Any]:
    last = s.last
    return {
        "key": s.key, "check": s.check, "target": s.target, "severity": s.severity.name,
        "since": s.since,
        "last": None if last is None else {
            "time": last.time, "status": last.status.name, "value": last.value,
            "threshold": last.threshold, "message": last.message,
        },
    }  # fmt: skip


def _from_state(item: dict[str, Any], book: AlertBook) -> AlertState:
    last = item["last"]
    result = None
    if last is not None:
        result = CheckResult(last["time"], item["check"], item["target"], Status[last["status"]],
                             last["value"], last["threshold"], last["message"])  # fmt: skip
    return AlertState(
        item["key"], item["check"], item["target"], deque(maxlen=book.policy.flap_window),
        open=True, severity=Status[item["severity"]], since=item["since"],
        streak_start=item["since"], last=result,
    )  # fmt: skip
