"""The archive's exceptions: one root, a recoverable and a fatal kind."""

from __future__ import annotations


class ArchiveError(Exception):
    """Root of the archive's errors; the message names the table, the day and the object."""


class ArchiveUnavailable(ArchiveError):
    """ClickHouse or the object store could not be reached; retry later (nothing was lost)."""


class ArchiveMismatch(ArchiveError):
    """What was read back (or is in the hot table) differs from the manifest; never drop it."""


class ArchiveConfigError(ArchiveError):
    """Bad archive configuration or request (unknown table, unreadable secrets file)."""
