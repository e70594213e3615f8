"""Errors raised while starting, probing or stopping local stack components."""

from __future__ import annotations


class StackError(Exception):
    """Root of the local stack's errors; the message says what failed and what to do about it."""


class MissingToolError(StackError):
    """A program the component needs (java, mvn, prometheus, openssl) is not installed."""


class PortInUseError(StackError):
    """The port a component must listen on is already taken by another process."""


class ReadinessTimeoutError(StackError):
    """A component was started but did not answer in time; the message holds its log's tail."""


class ComponentExitedError(StackError):
    """A component's process ended while it was starting; the message holds its log's tail."""
