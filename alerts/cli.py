"""``tickwatch silence add|list|remove``: mute alerts for a while from the command line.

When a detector is running (it announces its status API in ``<stack.state_dir>``), the commands
go through its JSON API (writes need ``status.api_token``); otherwise, or without a token, they
write ``<stack.state_dir>/silences.json``, which a running detector re-reads within a second.
Configured silences and maintenance windows (``alerts.silences``,
``alerts.maintenance_windows``) are listed too, but can only be changed in the configuration.
"""

from __future__ import annotations

import getpass
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from alerts.errors import AlertError, SilenceSyntaxError
from alerts.silence_store import SilenceStore
from alerts.silences import Silence, parse_duration, parse_silences, parse_time
from alerts.windows import DAYS, parse_windows
from tickwatch.clock import utc
from tickwatch.settings import Settings
from tickwatch.status_api import StatusApiError, StatusClient, discover

silence_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    if not isinstance(settings, Settings):
        raise typer.BadParameter("settings were not loaded")
    return settings


@silence_app.command("add")
def add(
    ctx: typer.Context,
    matcher: Annotated[str, typer.Argument(help="Glob over check/target, e.g. 'freshness/*'.")],
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1h30m, 1d.")] = "",
    until: Annotated[str, typer.Option(help="Until an ISO 8601 time (UTC if no offset).")] = "",
    comment: Annotated[str, typer.Option(help="Why; shown in list.")] = "",
) -> None:
    """Silence alerts matching MATCHER, starting now."""
    now = time.time()
    settings = _settings(ctx)
    try:
        ends = _end(now, duration, until)
        silence = Silence(matcher, now, ends, comment, created_by=getpass.getuser())
        stored_id, via = _add(settings, silence, now)
    except (AlertError, StatusApiError) as exc:
        err.print(f"[red]tickwatch silence: {exc}[/red]")
        raise typer.Exit(2) from None
    out.print(f"silence {stored_id}: {matcher} until {utc(ends):%Y-%m-%d %H:%M:%S} UTC ({via})")


def _api(settings: Settings, write: bool) -> StatusClient | None:
    """A client of the running detector's API, or None (no detector; no token for a write)."""
    url = discover(settings.stack.state_dir)
    token = settings.status.api_token.get_secret_value()
    if url is None:
        return None
    if write and not token:
        err.print(f"[dim]detector at {url} has an API, but status.api_token is not set here: "
                  "writing the silences file instead (the detector re-reads it)[/dim]")  # fmt: skip
        return None
    return StatusClient(url, token)


def _add(settings: Settings, silence: Silence, now: float) -> tuple[str, str]:
    """Store ``silence`` through the API or the file; returns (id, how)."""
    api = _api(settings, write=True)
    if api is not None:
        body = {"matcher": silence.matcher, "ends_at": utc(silence.ends).isoformat(),
                "comment": silence.comment, "created_by": silence.created_by}  # fmt: skip
        try:
            return str(api.post("silences", body)["id"]), f"via the detector at {api.url}"
        except StatusApiError as exc:
            if exc.status:
                raise
            err.print(f"[dim]{exc}: writing the silences file instead[/dim]")
        finally:
            api.close()
    store = SilenceStore(settings.stack.state_dir)
    return store.add(silence, now).id, f"in {store.path}"


def _end(now: float, duration: str, until: str) -> float:
    if bool(duration) == bool(until):
        raise SilenceSyntaxError("give exactly one of --for and --until")
    ends = now + parse_duration(duration).total_seconds() if duration else parse_time(until)
    if ends <= now:
        raise SilenceSyntaxError(
            f"the silence would end in the past ({utc(ends):%Y-%m-%d %H:%M} UTC)"
        )
    return ends


@silence_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Show active silences (command line and configured) and maintenance windows."""
    settings = _settings(ctx)
    now = time.time()
    if _list_from_api(settings):
        return
    try:
        stored = [s for s in SilenceStore(settings.stack.state_dir).load() if s.ends > now]
        configured = [s for s in parse_silences(settings.alerts.silences) if s.ends > now]
        windows = parse_windows(settings.alerts.maintenance_windows)
    except AlertError as exc:
        err.print(f"[red]tickwatch silence: {exc}[/red]")
        raise typer.Exit(2) from None
    table = Table("id", "matcher", "until (UTC)", "by", "comment")
    for s in stored + configured:
        table.add_row(
            s.id or "-", s.matcher, f"{utc(s.ends):%Y-%m-%d %H:%M:%S}", s.created_by, s.comment
        )
    out.print(table)
    for w in windows:
        days = ",".join(DAYS[d].title() for d in sorted(w.days))
        out.print(
            f"maintenance window: {w.matcher} on {days} "
            f"{w.start_min // 60:02d}:{w.start_min % 60:02d}-"
            f"{w.end_min // 60:02d}:{w.end_min % 60:02d} {w.tz}"
        )


def _list_from_api(settings: Settings) -> bool:
    """Print what the running detector reports; False when no detector answers."""
    api = _api(settings, write=False)
    if api is None:
        return False
    try:
        silences, maintenance = api.get("silences"), api.get("maintenance")
    except StatusApiError as exc:
        err.print(f"[dim]{exc}: reading the silences file instead[/dim]")
        return False
    finally:
        api.close()
    table = Table("id", "matcher", "until (UTC)", "by", "comment", title=f"detector at {api.url}")
    for s in silences:
        table.add_row(s["id"], s["matcher"], s["ends"][:19].replace("T", " "), s["created_by"],
                      s["comment"])  # fmt: skip
    out.print(table)
    for w in maintenance["windows"]:
        out.print(f"maintenance window {w['id']}: {w['matcher']} until {w['ends'][:19]} UTC")
    for w in maintenance["weekly"]:
        out.print(f"maintenance window: {w['matcher']} on {w['schedule']}"
                  + (" (on now)" if w["active"] else ""))  # fmt: skip
    return True


@silence_app.command("remove")
def remove(
    ctx: typer.Context,
    silence_id: Annotated[str, typer.Argument(help="The id shown by 'silence list'.")],
) -> None:
    """End a command-line silence now."""
    settings = _settings(ctx)
    try:
        removed = _remove(settings, silence_id)
    except (AlertError, StatusApiError) as exc:
        err.print(f"[red]tickwatch silence: {exc}[/red]")
        raise typer.Exit(2) from None
    if not removed:
        err.print(f"[red]tickwatch silence: no silence with id {silence_id}[/red]")
        raise typer.Exit(1)
    out.print(f"silence {silence_id} removed")


def _remove(settings: Settings, silence_id: str) -> bool:
    api = _api(settings, write=True)
    if api is not None:
        try:
            api.delete(f"silences/{silence_id}")
            return True
        except StatusApiError as exc:
            if exc.status == 404:
                return False
            if exc.status:
                raise
            err.print(f"[dim]{exc}: writing the silences file instead[/dim]")
        finally:
            api.close()
    return SilenceStore(settings.stack.state_dir).remove(silence_id, time.time())
