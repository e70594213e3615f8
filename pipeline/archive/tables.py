"""The archived tables for the archive job: the catalog lives in the kernel
(:mod:`tickwatch.archived_tables`, shared with the detector's archive check); :func:`table` looks
one up for a command line."""

from __future__ import annotations

from pipeline.archive.errors import ArchiveConfigError
from tickwatch.archived_tables import CANDLES_OF, DERIVED_FROM, TABLES, ArchivedTable

__all__ = ["CANDLES_OF", "DERIVED_FROM", "TABLES", "ArchivedTable", "table"]


def table(name: str) -> ArchivedTable:
    """The archived table called ``name``; :class:`ArchiveConfigError` names the known ones."""
    try:
        return TABLES[name]
    except KeyError:
        raise ArchiveConfigError(
            f"unknown archive table {name!r}; known: {sorted(TABLES)}"
        ) from None
