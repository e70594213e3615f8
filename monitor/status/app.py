"""The status page (``/``) and the JSON API (``/api/v1/...``) as one FastAPI application.

Reads are open (the server binds loopback by default). Writes — create/expire a silence,
open/close a maintenance window — need ``Authorization: Bearer <status.api_token>``; with no
token configured they answer 403 saying so. Bad input is answered 422 with one
``{"field", "reason"}`` per problem.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import SecretStr

from alerts.silence_store import SilenceStore
from alerts.silences import Silence
from monitor.status import models as m
from monitor.status.incidents import Incident
from monitor.status.page import FILTERS
from monitor.status.view import StatusView
from tickwatch.clock import WallClock, utc
from tickwatch.errors import ServiceUnavailable

TEMPLATES = Path(__file__).with_name("templates")
WRITES_DISABLED = (
    "write API disabled: no token configured (set TICKWATCH_STATUS_API_TOKEN, or api_token "
    "in the [status] table of the config file, and restart the detector)"
)


def create_app(
    view: StatusView, token: SecretStr, clock: WallClock, *, refresh_s: int = 10
) -> FastAPI:
    """The application; ``view`` supplies every answer."""
    app = FastAPI(title="tickwatch detector", version="1", docs_url=None,
                  redoc_url=None, openapi_url="/api/v1/openapi.json")  # fmt: skip
    app.add_exception_handler(RequestValidationError, _invalid)
    pages = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    pages.filters.update(FILTERS)
    writes = _Writes(view, clock)
    auth = Depends(_bearer(token))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        body = pages.get_template("status.html").render(
            s=view.snapshot(), now=clock.time(), refresh_s=refresh_s, hours=view.uptime_hours
        )
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})

    @app.get("/api/v1/summary")
    def summary() -> m.SummaryOut:
        return view.summary()

    @app.get("/api/v1/checks")
    def checks() -> list[m.CheckOut]:
        return view.checks()

    @app.get("/api/v1/alerts")
    def alerts() -> list[m.AlertOut]:
        return view.alerts()

    @app.get("/api/v1/incidents")
    def incidents(
        state: Annotated[Literal["open", "all"], Query()] = "all",
    ) -> list[m.IncidentOut]:
        found, _, _ = view.incidents()
        return [_incident(i) for i in found if state == "all" or i.open]

    @app.get("/api/v1/emails")
    def emails(limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict[str, Any]]:
        try:
            notes = view.history.notifications(clock.time() - 86400.0)
        except ServiceUnavailable as exc:
            raise HTTPException(503, f"alert history unavailable: {exc}") from None
        return [{"time": utc(n.time), "subject": n.subject, "status": n.status,
                 "alert_keys": list(n.keys)} for n in notes[-limit:]]  # fmt: skip

    @app.get("/api/v1/silences")
    def silences() -> list[m.SilenceOut]:
        return view.silences()

    @app.post("/api/v1/silences", status_code=201, dependencies=[auth])
    def add_silence(body: m.SilenceIn) -> m.SilenceOut:
        return writes.add(view.mutes.silences, body)

    @app.delete("/api/v1/silences/{silence_id}", dependencies=[auth])
    def expire_silence(silence_id: str) -> dict[str, str]:
        return writes.remove(view.mutes.silences, silence_id, "silence")

    @app.get("/api/v1/maintenance")
    def maintenance() -> m.MaintenanceOut:
        return view.maintenance()

    @app.post("/api/v1/maintenance", status_code=201, dependencies=[auth])
    def open_window(body: m.MaintenanceIn) -> m.SilenceOut:
        return writes.add(view.mutes.maintenance, body)

    @app.delete("/api/v1/maintenance/{window_id}", dependencies=[auth])
    def close_window(window_id: str) -> dict[str, str]:
        return writes.remove(view.mutes.maintenance, window_id, "maintenance window")

    @app.get("/api/v1/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok", "service": "tickwatch-monitor"}

    return app


class _Writes:
    """Silence and maintenance writes, one at a time (the CLI may write the same files)."""

    def __init__(self, view: StatusView, clock: WallClock) -> None:
        self._view, self._clock = view, clock
        self._lock = threading.Lock()

    def add(self, store: SilenceStore, body: m.SilenceIn | m.MaintenanceIn) -> m.SilenceOut:
        now = self._clock.time()
        ends = body.end(now)
        if ends <= now:
            field = "duration" if body.duration is not None else "ends_at"
            raise _unprocessable(field, f"ends at {utc(ends):%Y-%m-%d %H:%M:%S} UTC, in the past")
        with self._lock:
            stored = store.add(Silence(body.matcher, now, ends, body.comment,
                                       created_by=body.created_by), now)  # fmt: skip
        return m.SilenceOut(id=stored.id, matcher=stored.matcher, starts=utc(stored.starts),
                            ends=utc(stored.ends), comment=stored.comment,
                            created_by=stored.created_by, source="stored")  # fmt: skip

    def remove(self, store: SilenceStore, item_id: str, what: str) -> dict[str, str]:
        with self._lock:
            removed = store.remove(item_id, self._clock.time())
        if not removed:
            raise HTTPException(404, f"no {what} with id {item_id!r} (configured ones can only "
                                     "be changed in the configuration)")  # fmt: skip
        return {"id": item_id, "status": "expired"}


def _bearer(token: SecretStr) -> Any:
    expected = token.get_secret_value()

    def check(authorization: Annotated[str, Header()] = "") -> None:
        if not expected:
            raise HTTPException(403, WRITES_DISABLED)
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip(), expected):
            raise HTTPException(401, "missing or wrong bearer token (Authorization: Bearer ...)",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    return check


def _unprocessable(field: str, reason: str) -> RequestValidationError:
    """The same 422 body as a validation error of the request model."""
    return RequestValidationError([{"loc": ("body", field), "msg": reason, "type": "value_error"}])


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part != "body"]
        errors.append({"field": ".".join(loc) or "body", "reason": str(err.get("msg", ""))})
    return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=422)


def _incident(i: Incident) -> m.IncidentOut:
    return m.IncidentOut(
        key=i.key, severity=i.severity, open=i.open, opened=utc(i.opened),
        resolved=utc(i.resolved) if i.resolved is not None else None,
        emails_sent=i.emails_sent,
        timeline=[m.EntryOut(time=utc(e.time), kind=e.kind, text=e.text) for e in i.timeline],
    )  # fmt: skip
