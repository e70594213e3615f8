"""What a scenario produces: figures, the goals they are read against, and the outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "failed", "timeout", "not measured"]
UNIT_FORMATS = {
    "rows/s": "{:,.0f} rows/s",
    "records/s": "{:,.0f} records/s",
    "ticks/s": "{:,.0f} ticks/s",
    "s": "{:.2f} s",
    "µs": "{:.2f} µs",
    "MB": "{:,.0f} MB",
    "%": "{:+.1f} %",
    "×": "{:.2f}×",
}


@dataclass(frozen=True)
class Goal:
    """A target a figure is reported against (never asserted)."""

    text: str
    target: float
    higher_is_better: bool

    def verdict(self, value: float) -> str:
        """``met`` or ``missed by X%`` (relative to the target)."""
        if self.higher_is_better:
            shortfall = 1.0 - value / self.target
        else:
            shortfall = value / self.target - 1.0
        if shortfall <= 0:
            return "met"
        return f"missed by {shortfall:.0%}"


@dataclass(frozen=True)
class ShareGoal(Goal):
    """A quantile goal judged on a share: "the ``target`` quantile ≤ ``bound_s``" holds exactly
    when at least a share ``target`` of the observations are at or below ``bound_s``; the
    figure's value is that share."""

    bound_s: float = 0.0

    def verdict(self, value: float) -> str:
        """``met``, or the share at the bound against the share needed."""
        if value >= self.target:
            return "met"
        return f"missed: {value:.2%} ≤ {self.bound_s * 1000:g} ms, needs ≥ {self.target:.0%}"


@dataclass(frozen=True)
class Figure:
    """One measured number. ``value`` None means not measured; ``note`` then says why."""

    scenario: str
    name: str
    value: float | None
    unit: str
    goal: Goal | None = None
    display: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def verdict(self) -> str:
        """The goal verdict, or an empty string when there is no goal or no value."""
        if self.goal is None or self.value is None:
            return ""
        return self.goal.verdict(self.value)

    def shown(self) -> str:
        """The value as the table shows it (or why there is none)."""
        if self.value is None:
            return self.note or "not measured"
        if self.display:
            return self.display
        return UNIT_FORMATS.get(self.unit, "{:g} " + self.unit).format(self.value)

    def as_json(self) -> dict[str, Any]:
        """The figure as plain JSON data."""
        return {
            "scenario": self.scenario,
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "shown": self.shown(),
            "goal": self.goal.text if self.goal else None,
            "verdict": self.verdict() or None,
            "note": self.note or None,
            **({"details": self.extra} if self.extra else {}),
        }


@dataclass
class ScenarioOutcome:
    """How one scenario ended, how long it took and what it measured."""

    name: str
    status: Status
    seconds: float
    figures: list[Figure] = field(default_factory=list)
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        """The outcome without its figures (those are listed once, at the top level)."""
        return {
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "error": self.error or None,
        }


def not_measured(scenario: str, name: str, reason: str) -> Figure:
    """A figure row that says why there is no number."""
    return Figure(scenario, name, None, "", note=f"not measured: {reason}")
