"""The read path: ``<market>.archive_<table>`` views over every archived piece of a table.

``SELECT count() FROM market.archive_trades WHERE event_time >= '2026-11-02'`` reads the bucket
through ClickHouse's ``s3()`` table function. A view's definition is stored on the server, so it
holds no credentials: against a bucket that needs them, the ClickHouse server signs with the
credentials of its own ``<s3><endpoint>`` configuration (ClickHouse's documented per-endpoint
settings) or its environment. Ad-hoc queries with credentials use :meth:`ObjectStore.s3_function`.
"""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from pipeline.archive.export import DayArchive
from pipeline.archive.store import ObjectStore
from pipeline.archive.tables import TABLES


def create_views(
    client: Client, store: ObjectStore, market_db: str, archive: DayArchive
) -> list[str]:
    """Create or replace one view per archived table; return their names."""
    names = []
    for spec in TABLES.values():
        view = f"{market_db}.archive_{spec.name}"
        glob, structure = _literal(store.table_glob(spec.name)), _literal(archive.structure(spec))
        client.command(
            f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM s3({glob}, 'Parquet', {structure})"
        )
        names.append(view)
    return names


def _literal(text: str) -> str:
    """A ClickHouse string literal (DDL of a view cannot take query parameters)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
