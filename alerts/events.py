"""What the alert state machine emits: one :class:`AlertEvent` per lifecycle step of one alert."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from tickwatch.clock import utc
from tickwatch.types import Status


class EventKind(StrEnum):
    OPEN = "open"
    REPEAT = "repeat"
    RESOLVE = "resolve"
    SEVERITY = "severity_change"
    FLAPPING = "flapping"
    INHIBITED = "inhibited"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert opened, was re-announced, changed severity or resolved at ``time``.

    ``since`` is when the alert's current failing streak began (for RESOLVE: when it opened);
    ``severity`` is the severity after the event (OK for RESOLVE).
    """

    time: float
    key: str
    check: str
    target: str
    kind: EventKind
    severity: Status
    since: float
    value: float
    threshold: float
    message: str
    previous: Status = Status.OK

    @property
    def escalation(self) -> bool:
        """A SEVERITY event that made things worse (WARN → CRIT)."""
        return self.kind is EventKind.SEVERITY and self.severity > self.previous

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for the state snapshot); :func:`event_from_dict` reverses it."""
        out = asdict(self)
        out["kind"], out["severity"], out["previous"] = (
            self.kind.value,
            self.severity.name,
            self.previous.name,
        )
        return out

    def row(self) -> list[object]:
        """Values in ``ops.alert_events`` column order (:data:`EVENT_COLUMNS`)."""
        return [
            utc(self.time),
            self.key,
            self.check,
            self.target,
            self.kind.value,
            self.severity.name,
            utc(self.since),
            float(self.value),
            float(self.threshold),
            self.message,
        ]


EVENT_COLUMNS = [
    "time",
    "alert_key",
    "check",
    "target",
    "event",
    "severity",
    "since",
    "value",
    "threshold",
    "message",
]


def event_from_dict(raw: dict[str, Any]) -> AlertEvent:
    """The inverse of :meth:`AlertEvent.to_dict`; raises KeyError/ValueError on a bad dict."""
    return AlertEvent(
        float(raw["time"]), str(raw["key"]), str(raw["check"]), str(raw["target"]),
        EventKind(raw["kind"]), Status[raw["severity"]], float(raw["since"]),
        float(raw["value"]), float(raw["threshold"]), str(raw["message"]),
        Status[raw.get("previous", "OK")],
    )  # fmt: skip
