"""``tickwatch archive run|verify|restore|views``: the archive from the command line.

Set-up for every command: settings (already read) → endpoints (ClickHouse from settings or the
local stack; the S3 endpoint from ``archive.endpoint`` or the stack's ``s3`` record) → the
object store (credentials from settings or ``archive.secrets_file``) → one ClickHouse client.
Exit codes: 0 done, 1 some day failed (the others went on), 2 bad configuration or request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated

import typer
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from rich.console import Console

from pipeline.archive.errors import ArchiveConfigError, ArchiveError, ArchiveUnavailable
from pipeline.archive.job import ArchiveJob, RunReport
from pipeline.archive.restore import Restorer
from pipeline.archive.store import object_store
from pipeline.archive.tables import TABLES, ArchivedTable, table
from pipeline.archive.views import create_views
from tickwatch.clients import clickhouse_client
from tickwatch.clock import SystemClock
from tickwatch.endpoints import (
    LOCAL_ADDRESSES_KEY,
    EndpointError,
    LocalAddresses,
    resolve_endpoints,
)
from tickwatch.settings import Settings

archive_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
out = Console()
err = Console(stderr=True)
TableOption = Annotated[
    list[str] | None, typer.Option("--table", "-t", help=f"One of {sorted(TABLES)} (repeatable).")
]


def s3_endpoint(settings: Settings, local: LocalAddresses | None = None) -> str:
    """``archive.endpoint``, else the running local stack's S3 server, else empty."""
    if settings.archive.endpoint or local is None:
        return settings.archive.endpoint
    record = local.read().get("s3", {})
    return str(record.get("endpoint") or "") if record.get("pid") else ""


def build_job(settings: Settings, local: LocalAddresses | None = None) -> ArchiveJob:
    """The job for these settings; raises ArchiveConfigError / EndpointError /
    ArchiveUnavailable (ClickHouse does not answer). ``local`` is the local stack's records
    (given by the composition root) for addresses the settings leave empty."""
    ch = settings.clickhouse
    url = resolve_endpoints(settings, require=("clickhouse",), local=local).clickhouse_url
    store = object_store(settings.archive, s3_endpoint(settings, local))
    try:
        client = clickhouse_client(ch, url)
    except (OperationalError, DatabaseError) as exc:
        raise ArchiveUnavailable(f"ClickHouse at {url} is not reachable: {exc}") from None
    return ArchiveJob(
        client, store, ch.market_database, ch.ops_database,
        keep_days=ch.ticks_ttl_days, restore_hold_days=settings.archive.restore_hold_days,
        clock=SystemClock(),
    )  # fmt: skip


@contextmanager
def _job(ctx: typer.Context) -> Iterator[ArchiveJob]:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    local = ctx.meta.get(LOCAL_ADDRESSES_KEY)
    try:
        job = build_job(settings, local if isinstance(local, LocalAddresses) else None)
    except (ArchiveConfigError, EndpointError) as exc:
        err.print(f"[red]tickwatch archive: {exc}[/red]")
        raise typer.Exit(2) from None
    except ArchiveUnavailable as exc:
        err.print(f"[red]tickwatch archive: {exc}[/red]")
        raise typer.Exit(1) from None
    try:
        yield job
    except ArchiveConfigError as exc:
        err.print(f"[red]tickwatch archive: {exc}[/red]")
        raise typer.Exit(2) from None
    except ArchiveError as exc:
        err.print(f"[red]tickwatch archive: {exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        job.client.close()


def _tables(names: list[str] | None) -> list[ArchivedTable] | None:
    try:
        return [table(n) for n in names] if names else None
    except ArchiveConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


def _print(report: RunReport) -> int:
    for piece in report.verified:
        out.print(
            f"verified {piece.table} {piece.day}: {piece.stats.rows} rows, {piece.bytes} bytes, "
            f"{piece.object_key}"
        )
    for dropped in report.dropped:
        out.print(
            f"dropped  {dropped.table} {dropped.day} from the hot table ({dropped.rows} rows)"
        )
    for name, day, error in report.failed:
        err.print(f"[red]failed   {name} {day}: {error}[/red]")
    return 1 if report.failed else 0


@archive_app.command("run")
def run(
    ctx: typer.Context,
    tables: TableOption = None,
    retain: Annotated[bool, typer.Option(help="Drop verified days past retention.")] = True,
    every: Annotated[
        float, typer.Option(min=0, help="Run again every N seconds until stopped (0 = once).")
    ] = 0.0,
) -> None:
    """Archive and verify every closed day, then drop verified days past retention.

    With ``--every`` it repeats until SIGTERM/Ctrl-C; stopping mid-day is safe (resumable).
    """
    specs = _tables(tables)
    with _job(ctx) as job:
        code = _print(job.run(specs, retain=retain))
        while every > 0:
            time.sleep(every)
            code = _print(job.run(specs, retain=retain))
    raise typer.Exit(code)


@archive_app.command("verify")
def verify(ctx: typer.Context, tables: TableOption = None) -> None:
    """Read every archived piece back and check its row count and checksum."""
    specs = _tables(tables)
    with _job(ctx) as job:
        code = _print(job.verify(specs))
    raise typer.Exit(code)


@archive_app.command("restore")
def restore(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--table", "-t", help="trades, quotes or bars.")],
    first: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    last: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (inclusive).")],
) -> None:
    """Put archived days back into the hot table, exactly once."""
    spec, d1, d2 = _tables([name]), _day(first, "--from"), _day(last, "--to")
    assert spec is not None
    with _job(ctx) as job:
        restorer = Restorer(
            job.client, job.store, job.market_database, job.manifest, job.day_archive,
            clock=job.clock,
        )  # fmt: skip
        for done in restorer.restore_range(spec[0], d1, d2):
            verb = "restored" if done.inserted else "already in the hot table:"
            out.print(f"{verb} {done.table} {done.day} ({done.rows} rows)")


@archive_app.command("views")
def views(ctx: typer.Context) -> None:
    """Create the archive_<table> views that read the bucket (the read path)."""
    with _job(ctx) as job:
        for name in create_views(job.client, job.store, job.market_database, job.day_archive):
            out.print(f"view {name}")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} {text!r}: expected YYYY-MM-DD") from None
