"""``tickwatch stack up|down|status`` and ``tickwatch mail list|show``.

The root command reads the settings and passes them in ``ctx.obj``; these commands only print.
Exit codes: 0 done, 1 a component failed (the message says which and why).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from tickwatch.settings import Settings
from tickwatch.stack import mailbox
from tickwatch.stack.errors import StackError

if TYPE_CHECKING:
    from tickwatch.stack.launcher import LocalStack

stack_app = typer.Typer(no_args_is_help=True, help="Start, stop and inspect the local stack.")
mail_app = typer.Typer(no_args_is_help=True, help="Read the mail the local SMTP server received.")
out = Console()
err = Console(stderr=True)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    if not isinstance(settings, Settings):
        raise TypeError("the root command must put a tickwatch Settings object in ctx.obj")
    return settings


@stack_app.command("up")
def stack_up(
    ctx: typer.Context,
    kafka_brokers: Annotated[
        int | None,
        typer.Option(min=1, max=5, help="Kafka brokers: > 1 starts a KRaft cluster (RF 3)"),
    ] = None,
) -> None:
    """Start ClickHouse, Kafka, Prometheus and the mail server; create the topics."""
    from tickwatch.stack.launcher import LocalStack

    settings = _settings(ctx)
    if kafka_brokers is not None:
        stack_settings = settings.stack.model_copy(update={"kafka_brokers": kafka_brokers})
        settings = settings.model_copy(update={"stack": stack_settings})
    stack = LocalStack(settings)
    try:
        stack.up()
    except StackError as exc:
        err.print(f"[red]tickwatch stack up: {exc}[/red]", highlight=False)
        raise typer.Exit(1) from None
    out.print(_status_table(stack))


@stack_app.command("down")
def stack_down(ctx: typer.Context) -> None:
    """Stop what `stack up` started (external services are left alone)."""
    from tickwatch.stack.launcher import LocalStack

    try:
        stopped = LocalStack(_settings(ctx)).down()
    except StackError as exc:
        err.print(f"[red]tickwatch stack down: {exc}[/red]", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@stack_app.command("status")
def stack_status(ctx: typer.Context) -> None:
    """Show each component's address, pid and health."""
    from tickwatch.stack.launcher import LocalStack

    stack = LocalStack(_settings(ctx))
    try:
        out.print(_status_table(stack))
    except StackError as exc:
        err.print(f"[red]tickwatch stack status: {exc}[/red]", highlight=False)
        raise typer.Exit(1) from None


def _status_table(stack: LocalStack) -> Table:
    table = Table(title=f"local stack in {stack.state_dir}")
    for column in ("component", "address", "pid", "health", "log / note"):
        table.add_column(column)
    for item in stack.status():
        if item.note:
            health = "[dim]skipped[/dim]"
        else:
            health = "[green]up[/green]" if item.healthy else "[red]down[/red]"
        pid = "external" if item.external else str(item.pid or "-")
        detail = item.note or _relative(item.log, stack.state_dir)
        table.add_row(item.name, item.address or "-", pid, health, detail)
    return table


def _relative(log: str | None, state_dir: Path) -> str:
    """A log path shown relative to the state directory when it is inside it."""
    if not log:
        return ""
    path = Path(log)
    return str(path.relative_to(state_dir)) if path.is_relative_to(state_dir) else log


@mail_app.command("list")
def mail_list(ctx: typer.Context) -> None:
    """List the messages received by the local mail server, oldest first."""
    mail_dir = _mail_dir(_settings(ctx))
    table = Table(title=f"mail in {mail_dir}")
    for column in ("#", "date", "from", "to", "subject"):
        table.add_column(column)
    for number, path in enumerate(mailbox.message_files(mail_dir), start=1):
        message = mailbox.parse(path)
        table.add_row(
            str(number),
            str(message.get("Date", "")),
            str(message.get("From", "")),
            str(message.get("To", "")),
            str(message.get("Subject", "")),
        )
    out.print(table)


@mail_app.command("show")
def mail_show(
    ctx: typer.Context, number: Annotated[int, typer.Argument(help="Number from `mail list`.")]
) -> None:
    """Print one message: its headers and its text body."""
    files = mailbox.message_files(_mail_dir(_settings(ctx)))
    if not 1 <= number <= len(files):
        err.print(f"[red]no message {number}: there are {len(files)}[/red]")
        raise typer.Exit(1)
    message = mailbox.parse(files[number - 1])
    for header in ("Date", "From", "To", "Subject"):
        out.print(f"[bold]{header}:[/bold] {message.get(header, '')}", highlight=False)
    out.print()
    out.print(mailbox.body_text(message), markup=False, highlight=False)


def _mail_dir(settings: Settings) -> Path:
    """The folder the local mail server writes to (as recorded by `stack up`)."""
    from tickwatch.stack import stackfile

    state_dir = settings.stack.state_dir.resolve()
    try:
        recorded = stackfile.read(state_dir).get("smtp", {}).get("mail_dir")
    except StackError:
        recorded = None
    return Path(recorded) if recorded else state_dir / "mail"
