"""``tickwatch migrate``: create the role users, apply the migrations; fail fast when away.

Order: as the shared (admin) user, create or update one user per configured role
(``tickwatch.access``; skipped on the local chdb-core server, whose users come from
``users.xml``) → as the ``migrate`` role's user, apply the pending migrations → size every
deduplicated table's insert-token window (:mod:`tickwatch.dedup_window`).

On a cluster with ``clickhouse.cluster_replicated = false`` (no Keeper, no ``ON CLUSTER``) the
same is done on every node of ``clickhouse.shard_urls``, in order.
"""

from __future__ import annotations

from rich.console import Console

from tickwatch import access, dedup_window, migrations
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
    ch = settings.clickhouse
    nodes = ch.shard_url_list if ch.cluster and not ch.cluster_replicated else [url]
    shards = max(1, len(ch.shard_url_list))
    for node in nodes:
        code = _migrate_node(settings, node, shards, console)
        if code:
            return code
    return 0


def _migrate_node(settings: Settings, url: str, shards: int, console: Console) -> int:
    try:
        _create_role_users(settings, url, console)
        client = clickhouse_client(settings.clickhouse.as_role("migrate"), url)
        applied = migrations.apply(client, settings.clickhouse)
        resized = dedup_window.ensure(client, settings, shards)
    except (migrations.MigrationError, dedup_window.DedupWindowError) as exc:
        console.print(f"[red]migration failed: {exc}[/red]")
        return 1
    except Exception as exc:
        console.print(f"[red]ClickHouse at {url} is not reachable: {exc}[/red]")
        return 1
    if applied:
        console.print(f"applied migrations {', '.join(applied)} to {url}")
    else:
        console.print(f"schema is up to date at {url}")
    if resized:
        console.print(f"deduplication window raised on {', '.join(resized)}")
    return 0


def _create_role_users(settings: Settings, url: str, console: Console) -> None:
    users = access.role_users(settings.clickhouse)
    if not users:
        return
    admin = clickhouse_client(settings.clickhouse, url)
    try:
        created = access.apply_users(admin, users)
    finally:
        admin.close()
    names = ", ".join(f"{u.username} ({u.role})" for u in users)
    if created:
        console.print(f"role users ready: {names}")
    else:
        console.print(f"role users come from the server's users.xml here: {names}")
