"""``tickwatch migrate``: apply the ClickHouse migrations, fail fast when ClickHouse is away."""

from __future__ import annotations

from rich.console import Console

from tickwatch import migrations
from tickwatch.clients import clickhouse_client
from tickwatch.endpoints import EndpointError, LocalAddresses, resolve_endpoints
from tickwatch.settings import Settings


def run_migrate(settings: Settings, local: LocalAddresses | None = None) -> int:
    """Apply pending migrations; print what was applied. Returns the process exit code.

    ``local`` is the local stack's addresses, used where the settings leave one empty.
    """
    console = Console()
    try:
        url = resolve_endpoints(settings, require=("clickhouse",), local=local).clickhouse_url
    except EndpointError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    try:
        client = clickhouse_client(settings.clickhouse, url)
        applied = migrations.apply(client, settings.clickhouse)
    except migrations.MigrationError as exc:
        console.print(f"[red]migration failed: {exc}[/red]")
        return 1
    except Exception as exc:
        console.print(f"[red]ClickHouse at {url} is not reachable: {exc}[/red]")
        return 1
    if applied:
        console.print(f"applied migrations {', '.join(applied)} to {url}")
    else:
        console.print(f"schema is up to date at {url}")
    return 0
