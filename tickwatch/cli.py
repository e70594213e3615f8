"""The ``tickwatch`` command: one entry point, settings read once, sub-commands per component.

Each worker command loads its own module lazily so ``tickwatch stack status`` does not import
the Kafka consumer, and a broken optional dependency only affects the command that needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tickwatch.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from tickwatch.endpoints import LocalAddresses

app = typer.Typer(
    name="tickwatch",
    help="Observability-first market-data pipeline: feeds -> Kafka -> ClickHouse, watched.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", envvar="TICKWATCH_CONFIG", help="TOML settings file."),
    ] = None,
) -> None:
    """Read and validate the settings once; a bad value stops here naming the key."""
    try:
        ctx.obj = load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]tickwatch: {exc}[/red]")
        raise typer.Exit(2) from None
    from tickwatch.endpoints import LOCAL_ADDRESSES_KEY

    ctx.meta[LOCAL_ADDRESSES_KEY] = _local(ctx)  # for the sub-command groups in the packages


def _local(ctx: typer.Context) -> LocalAddresses:
    """The local stack's records: where workers look for addresses the settings leave empty."""
    from tickwatch.stack.stackfile import local_addresses

    return local_addresses(_settings(ctx).stack.state_dir.resolve())


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


@app.command()
def migrate(ctx: typer.Context) -> None:
    """Apply the ClickHouse migrations in clickhouse/ (safe to run twice)."""
    from tickwatch.migrate_cli import run_migrate

    raise typer.Exit(run_migrate(_settings(ctx), _local(ctx)))


@app.command()
def ingest(ctx: typer.Context) -> None:
    """Run the ingest worker: source -> Kafka."""
    from pipeline.ingest_cli import run_ingest

    raise typer.Exit(run_ingest(_settings(ctx), _local(ctx)))


@app.command()
def load(ctx: typer.Context) -> None:
    """Run the load worker: Kafka -> ClickHouse, exactly once."""
    from pipeline.load_cli import run_load

    raise typer.Exit(run_load(_settings(ctx), _local(ctx)))


@app.command()
def monitor(ctx: typer.Context) -> None:
    """Run the downtime detector: health checks, alert state, email."""
    from monitor.cli import EXIT_CONFIG, run_monitor
    from pipeline.sources.expected import expected_symbols

    settings = _settings(ctx)
    try:  # the symbols the source should deliver: the detector watches them from the start
        expected = expected_symbols(settings)
    except ValueError as exc:
        typer.echo(f"monitor cannot start: ingest settings: {exc}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None
    raise typer.Exit(run_monitor(settings, _local(ctx), expected))


@app.command()
def up(ctx: typer.Context) -> None:
    """Stack up, migrate, then run ingest + load + monitor with a live panel until Ctrl-C."""
    from tickwatch.up import run_up

    raise typer.Exit(run_up(_settings(ctx)))


@app.command()
def incident(
    ctx: typer.Context,
    seconds: Annotated[
        float, typer.Option("--for", min=5, max=3600, help="How long load stays stopped (s).")
    ] = 60.0,
) -> None:
    """Stop the load worker of the running `tickwatch up` for a minute: lag, alert email,
    recovery, resolved email."""
    from tickwatch.up.detector import request_drill

    state_dir = _settings(ctx).stack.state_dir.resolve()
    try:
        pid = request_drill(state_dir, seconds)
    except LookupError as exc:
        err.print(f"[red]tickwatch incident: {exc}[/red]")
        raise typer.Exit(1) from None
    Console().print(
        f"asked `tickwatch up` (pid {pid}) to stop the load worker for {seconds:.0f} s.\n"
        "Watch the panel or the status page: consumer lag grows → the detector opens an alert "
        "and emails it → load starts again and catches up → the alert resolves and a RESOLVED "
        "email follows (`tickwatch mail list`)."
    )


SymbolsOption = Annotated[str, typer.Option("--symbols", help="Comma-separated, e.g. AAPL,MSFT.")]


def _symbols(text: str) -> list[str]:
    symbols = [s.strip() for s in text.split(",") if s.strip()]
    if not symbols:
        raise typer.BadParameter("--symbols: give at least one symbol")
    return symbols


@app.command()
def backfill(
    ctx: typer.Context,
    *,
    source: Annotated[str, typer.Option(help="polygon, alpaca or replay.")],
    symbols: SymbolsOption,
    first: Annotated[str, typer.Option("--from", help="YYYY-MM-DD or ISO date-time (UTC).")],
    last: Annotated[str, typer.Option("--to", help="YYYY-MM-DD (inclusive) or date-time.")],
    interval: Annotated[str, typer.Option(help="1m or 1d (bars).")] = "1m",
    what: Annotated[str, typer.Option(help="bars or trades (US stocks).")] = "bars",
) -> None:
    """Load historical bars or trades through Kafka, exactly once, from the watermark on."""
    from pipeline.backfill.cli import run_backfill
    from pipeline.backfill.errors import BackfillConfigError
    from pipeline.backfill.interval import span

    try:
        window = span(first, last)
    except BackfillConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    code = run_backfill(
        _settings(ctx), _local(ctx), source=source, symbols=_symbols(symbols), spans=[window],
        interval=interval, what=what,
    )  # fmt: skip
    raise typer.Exit(code)


@app.command()
def gaps(
    ctx: typer.Context,
    *,
    symbols: SymbolsOption,
    first: Annotated[str, typer.Option("--from", help="YYYY-MM-DD or ISO date-time (UTC).")],
    last: Annotated[str, typer.Option("--to", help="YYYY-MM-DD (inclusive) or date-time.")],
    asset_class: Annotated[
        str | None,
        typer.Option(help="Whose trading hours: equity, crypto, fx... (default: from the symbol)."),
    ] = None,
    fill: Annotated[bool, typer.Option("--backfill", help="Backfill the gaps found.")] = False,
    source: Annotated[
        str | None, typer.Option(help="Source for --backfill (default backfill.gaps_source).")
    ] = None,
) -> None:
    """List open-market minutes without a 1-minute bar; --backfill fills them."""
    from pipeline.backfill.cli import run_gaps

    settings = _settings(ctx)
    code = run_gaps(
        settings, _local(ctx), _symbols(symbols), first, last, asset_class=asset_class,
        backfill=fill, source=source or settings.backfill.gaps_source,
    )  # fmt: skip
    raise typer.Exit(code)


def _register_sub_apps() -> None:
    from alerts.cli import silence_app
    from pipeline.archive.cli import archive_app
    from tickwatch.stack.cli import mail_app, stack_app

    app.add_typer(stack_app, name="stack", help="Start, stop and inspect the local stack.")
    app.add_typer(mail_app, name="mail", help="Read the mail the local SMTP server received.")
    app.add_typer(silence_app, name="silence", help="Silence alerts for a while.")
    app.add_typer(archive_app, name="archive", help="Archive closed days to Parquet on S3.")


def main() -> None:
    """Console-script entry point."""
    _register_sub_apps()
    app()
