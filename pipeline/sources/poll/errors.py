"""What a polling source raises: fatal problems end ``batches()``; the rest skip one poll.

:class:`PollAuthError` (HTTP 401/403) and :class:`PollConfigError` are fatal — polling again
would get the same answer. A :class:`MalformedResponse` skips the request it came from (counted,
logged with the request and the field) and the source keeps polling. Transient failures (429,
5xx, timeouts, connection errors) are not exceptions a caller sees: the source backs off and
retries them itself (:mod:`pipeline.sources.poll.source`).
"""

from __future__ import annotations

from pipeline.sources.live.errors import AuthenticationError, FatalFeedError, LiveSourceError


class PollConfigError(FatalFeedError):
    """A setting the poller cannot work with (no symbols, missing credentials)."""


class PollAuthError(AuthenticationError):
    """The vendor answered 401/403: the message names the source and the credential setting."""


class MalformedResponse(LiveSourceError):
    """A response that does not hold what the vendor documents; names the request and field."""

    recoverable = True

    def __init__(self, request: str, problem: str) -> None:
        super().__init__(f"{request}: {problem}")
        self.request, self.problem = request, problem
