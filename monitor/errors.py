"""The monitor package's exceptions: one root, a recoverable and a fatal kind."""

from __future__ import annotations

from tickwatch.errors import ServiceUnavailable


class MonitorError(Exception):
    """Root of every error the monitor package raises."""


class CheckUnavailable(MonitorError, ServiceUnavailable):
    """A check could not reach what it measures; recoverable, the check reports UNKNOWN.

    It is also the kernel's :class:`~tickwatch.errors.ServiceUnavailable` (what the ClickHouse
    handle raises), so checks catch one kind whichever layer failed.
    """


class MonitorConfigError(MonitorError):
    """The detector cannot start with this configuration (fatal); the message names the key."""
