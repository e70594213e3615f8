"""Value types shared by the pipeline, the detector and the alerts; standard library only.

What one run of one check found (a :class:`CheckResult`, one row of ``ops.health_checks``) and
the key of one Kafka partition. Nothing here imports anything of ours, so every package can use
these without depending on another (model: arroyo's ``types.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

TopicPartitionKey = tuple[str, int]
"""(topic, partition): the key of one partition in offsets, batches and lag samples."""


class Status(IntEnum):
    """Check outcome; the numbers are the ``tickwatch_monitor_check_status`` gauge values.

    UNKNOWN means "could not measure" (e.g. ClickHouse down for a check that reads it); the alert
    state machine neither opens nor resolves on it, so an outage of one dependency raises exactly
    the alert of its own reachability check instead of one per check that reads it.
    """

    OK = 0
    WARN = 1
    CRIT = 2
    UNKNOWN = 3

    @property
    def failing(self) -> bool:
        return self in (Status.WARN, Status.CRIT)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict on one target at one time.

    ``alertable`` is False for detail rows (e.g. one consumer-lag row per partition) that are
    written to ClickHouse for dashboards but alert through their aggregate row instead.
    """

    time: float
    check: str
    target: str
    status: Status
    value: float
    threshold: float
    message: str
    duration: float = 0.0
    alertable: bool = True

    @property
    def key(self) -> str:
        """The alert key: one alert per (check, target)."""
        return f"{self.check}/{self.target}"

    def row(self) -> list[object]:
        """Values in ``ops.health_checks`` column order (see :data:`HEALTH_COLUMNS`)."""
        return [
            datetime.fromtimestamp(self.time, tz=UTC),
            self.check,
            self.target,
            self.status.name,
            float(self.value),
            float(self.threshold),
            self.message,
            self.duration * 1000.0,
        ]


HEALTH_COLUMNS = [
    "time",
    "check",
    "target",
    "status",
    "value",
    "threshold",
    "message",
    "duration_ms",
]


def worst(statuses: list[Status]) -> Status:
    """The most severe of ``statuses``: CRIT > WARN > UNKNOWN > OK (OK when empty)."""
    order = [Status.CRIT, Status.WARN, Status.UNKNOWN]
    for status in order:
        if status in statuses:
            return status
    return Status.OK


@dataclass(frozen=True, slots=True)
class ExpectedSymbol:
    """A symbol the configured source should deliver (so a feed that never sent has a target)."""

    source: str
    symbol: str
    asset_class: str
    exchange: str = ""


def symbol_key(symbol: str) -> str:
    """Vendors spell one instrument differently (``BTC-USD``, ``BTC/USD``, ``btcusd``): compare
    configured and delivered symbols on letters and digits only."""
    return re.sub(r"[^A-Z0-9]", "", symbol.upper())
