"""The stack side of ``tickwatch up``: start what is missing, migrate, stop only what we started.

Components that were already running (an earlier ``tickwatch stack up``) or are external (set
in the settings) are used and left running; those this run started are stopped at the end, in
reverse start order, and marked stopped in ``stack.json`` as ``tickwatch stack down`` would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.console import Console

from tickwatch.settings import Settings

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from tickwatch.endpoints import Endpoints


class StackRun:
    """One run's use of the local stack."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.state_dir = settings.stack.state_dir.resolve()
        self.logs_dir = self.state_dir / "logs"
        self._before: dict[str, object] = {}
        self._clickhouse_url = ""

    def up(self, console: Console) -> Endpoints:
        """Start the stack and migrate; returns the resolved endpoints.

        Raises the stack's ``StackError`` / the migrations' ``MigrationError`` on failure
        (whatever was started is still stopped by :meth:`down`).
        """
        from tickwatch import migrations
        from tickwatch.clients import clickhouse_client
        from tickwatch.endpoints import resolve_endpoints
        from tickwatch.stack import stackfile
        from tickwatch.stack.launcher import LocalStack

        self._before = {n: r.get("pid") for n, r in stackfile.read(self.state_dir).items()}
        console.print(f"starting the local stack in {self.state_dir} ...")
        LocalStack(self._settings).up()
        local = stackfile.local_addresses(self.state_dir)
        endpoints = resolve_endpoints(self._settings, require=("kafka", "clickhouse"), local=local)
        self._clickhouse_url = endpoints.clickhouse_url
        console.print(f"kafka {endpoints.kafka_bootstrap}, clickhouse {endpoints.clickhouse_url}")
        client = clickhouse_client(self._settings.clickhouse, endpoints.clickhouse_url)
        try:
            applied = migrations.apply(client, self._settings.clickhouse)
        finally:
            client.close()
        console.print(f"migrations applied: {', '.join(applied) or 'none pending'}")
        return endpoints

    def count_query(self) -> Callable[[str], int]:
        """A function running a ``SELECT count()`` on ClickHouse (client made on first use)."""
        from tickwatch.clients import clickhouse_client

        clients: list[Client] = []

        def query(sql: str) -> int:
            if not clients:
                clients.append(clickhouse_client(self._settings.clickhouse, self._clickhouse_url))
            return int(str(clients[0].command(sql)))

        return query

    def started(self) -> list[str]:
        """Components running now under a pid they did not have before this run."""
        from tickwatch.stack import stackfile

        records = stackfile.read(self.state_dir)
        return [
            name
            for name, record in records.items()
            if record.get("pid") and record.get("pid") != self._before.get(name)
        ]

    def down(self, console: Console) -> None:
        """Stop the components this run started (reverse order); leave the others."""
        from tickwatch.stack import components, stackfile
        from tickwatch.stack.stackfile import COMPONENTS

        started = self.started()
        records = stackfile.read(self.state_dir)
        for name in reversed(COMPONENTS):
            if name not in started:
                continue
            console.print(f"stopping {name} ...")
            components.stop(name, records[name])
            records[name]["pid"] = None
            stackfile.write(self.state_dir, records)
        kept = [n for n, r in records.items() if r.get("pid") and n not in started]
        if kept:
            console.print(f"left running (started before this run): {', '.join(kept)}")
