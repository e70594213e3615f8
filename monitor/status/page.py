"""Formatting helpers for the status page template (Jinja2 filters)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from monitor.status.history import Slot
from tickwatch.clock import utc


def when(value: float | datetime | None) -> str:
    """``2026-12-01 09:03:12 UTC``."""
    if value is None:
        return "-"
    moment = value if isinstance(value, datetime) else utc(value)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def span(seconds: float) -> str:
    """``45s``, ``3m 12s``, ``2h 05m``, ``3d 4h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def since(value: float | datetime, now: float) -> str:
    """``3m 12s`` since ``value``."""
    moment = value.timestamp() if isinstance(value, datetime) else value
    return span(now - moment)


def slot_class(slot: Slot) -> str:
    """CSS class of one uptime segment: worst status measured in it."""
    if not slot.measured:
        return "none"
    if slot.crit:
        return "crit"
    return "warn" if slot.warn else "ok"


def uptime(slots: list[Slot]) -> str:
    """Share of measured results that were OK, ``99.5%`` (``-`` when nothing was measured)."""
    measured = sum(s.measured for s in slots)
    if not measured:
        return "-"
    return f"{100.0 * sum(s.ok for s in slots) / measured:.1f}%"


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


FILTERS: dict[str, Callable[..., Any]] = {
    "when": when,
    "span": span,
    "since": since,
    "slot_class": slot_class,
    "uptime": uptime,
    "number": number,
}
