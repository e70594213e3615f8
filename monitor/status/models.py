"""The JSON API's request and response bodies (``/api/v1``). Requests reject unknown fields;
a bad value is answered 422 naming the field and the reason."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.errors import SilenceSyntaxError
from alerts.silences import parse_duration

MATCHER = r"^\S+$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Timed(_Request):
    """Exactly one of ``duration`` (``30m``, ``2h``, ``1h30m``) and ``ends_at`` (ISO 8601 with
    an offset)."""

    duration: str | None = Field(None, examples=["30m"])
    ends_at: AwareDatetime | None = None
    comment: str = Field("", max_length=500)
    created_by: str = Field("api", min_length=1, max_length=100)

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value)
            except SilenceSyntaxError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _one_end(self) -> _Timed:
        if (self.duration is None) == (self.ends_at is None):
            raise ValueError("give exactly one of 'duration' and 'ends_at'")
        return self

    def end(self, now: float) -> float:
        """The end as epoch seconds."""
        if self.duration is not None:
            return now + parse_duration(self.duration).total_seconds()
        assert self.ends_at is not None  # guaranteed by _one_end
        return self.ends_at.timestamp()


class SilenceIn(_Timed):
    """Mute the alerts whose key matches ``matcher`` (a glob over ``check/target``) from now."""

    matcher: str = Field(min_length=1, max_length=200, pattern=MATCHER)


class MaintenanceIn(_Timed):
    """Open a maintenance window now: alerts matching ``matcher`` send no email until it ends."""

    matcher: str = Field("*", min_length=1, max_length=200, pattern=MATCHER)


class CheckOut(BaseModel):
    key: str
    check: str
    target: str
    status: Literal["OK", "WARN", "CRIT", "UNKNOWN"]
    since: datetime
    measured_at: datetime
    value: float
    threshold: float
    message: str


class AlertOut(BaseModel):
    key: str
    check: str
    target: str
    severity: str
    since: datetime
    flapping: bool
    muted: str | None
    message: str


class EntryOut(BaseModel):
    time: datetime
    kind: str
    text: str


class IncidentOut(BaseModel):
    key: str
    severity: str
    open: bool
    opened: datetime
    resolved: datetime | None
    emails_sent: int
    timeline: list[EntryOut]


class SilenceOut(BaseModel):
    id: str
    matcher: str
    starts: datetime
    ends: datetime
    comment: str
    created_by: str
    source: Literal["stored", "config"]


class WeeklyWindowOut(BaseModel):
    schedule: str
    matcher: str
    active: bool


class MaintenanceOut(BaseModel):
    windows: list[SilenceOut]
    weekly: list[WeeklyWindowOut]


class SummaryOut(BaseModel):
    """The pipeline's headline figures and the detector's counts."""

    time: datetime
    ticks_per_second: float | None
    lag_messages: float | None
    e2e_p99_seconds: float | None
    checks: dict[str, int]
    open_alerts: int
    emails_sent_24h: int | None
    history_available: bool
    writes_enabled: bool


class ErrorOut(BaseModel):
    detail: str
    errors: list[dict[str, str]] = []
