"""``tickwatch silence add|list|remove``: mute alerts for a while from the command line.

Silences are stored in ``<stack.state_dir>/silences.json``; a running detector picks changes up
within a second. Configured silences and maintenance windows (``alerts.silences``,
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
    try:
        ends = _end(now, duration, until)
        store = SilenceStore(_settings(ctx).stack.state_dir)
        stored = store.add(Silence(matcher, now, ends, comment, created_by=getpass.getuser()), now)
    except AlertError as exc:
        err.print(f"[red]tickwatch silence: {exc}[/red]")
        raise typer.Exit(2) from None
    out.print(f"silence {stored.id}: {matcher} until {utc(ends):%Y-%m-%d %H:%M:%S} UTC")


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


@silence_app.command("remove")
def remove(
    ctx: typer.Context,
    silence_id: Annotated[str, typer.Argument(help="The id shown by 'silence list'.")],
) -> None:
    """End a command-line silence now."""
    store = SilenceStore(_settings(ctx).stack.state_dir)
    try:
        removed = store.remove(silence_id, time.time())
    except AlertError as exc:
        err.print(f"[red]tickwatch silence: {exc}[/red]")
        raise typer.Exit(2) from None
    if not removed:
        err.print(f"[red]tickwatch silence: no silence with id {silence_id}[/red]")
        raise typer.Exit(1)
    out.print(f"silence {silence_id} removed")
