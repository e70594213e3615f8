"""The monitor package's exceptions: one root, a recoverable and a fatal kind."""

from __future__ import annotations


class MonitorError(Exception):
    """Root of every error the monitor package raises."""


class CheckUnavailable(MonitorError):
    """A check could not reach what it measures; recoverable, the check reports UNKNOWN."""


class MonitorConfigError(MonitorError):
    """The detector cannot start with this configuration (fatal); the message names the key."""
