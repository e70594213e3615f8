"""What a live source raises: fatal problems end ``batches()``, retryable ones reconnect.

A vendor session reports :class:`RetryableFeedError` for anything a new connection can cure
(a slow-client disconnect, a connection limit, a server shutting down) and
:class:`FatalFeedError` for what reconnecting would only repeat (bad credentials, a symbol the
plan does not cover). The reconnect loop handles the retryable kind itself and never lets a
fatal error turn into a reconnect storm; only fatal errors leave ``batches()``.
"""

from __future__ import annotations

from pipeline.errors import SourceError


class LiveSourceError(SourceError):
    """Root of the live sources' errors (a :class:`~pipeline.errors.SourceError`)."""


class FatalFeedError(LiveSourceError):
    """The vendor refused us for a reason a reconnect cannot fix; ``batches()`` raises it."""

    recoverable = False


class AuthenticationError(FatalFeedError):
    """The vendor rejected the credentials. Counted as an auth failure, never retried."""


class RetryableFeedError(LiveSourceError):
    """The connection must be dropped and re-established after a backoff delay."""

    recoverable = True


class StallError(RetryableFeedError):
    """No frame arrived for ``stall_timeout_s`` while the source's market was open."""
