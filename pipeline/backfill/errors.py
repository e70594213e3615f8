"""Backfill's errors: one root under :class:`~pipeline.errors.PipelineError`.

Every message names the request (method and URL, never a credential) or the setting at fault.
"""

from __future__ import annotations

from pipeline.errors import PipelineError


class BackfillError(PipelineError):
    """Root of the backfill errors."""


class BackfillConfigError(BackfillError):
    """A bad request or setting (unknown source, missing credentials, ``--from`` after ``--to``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, recoverable=False)


class VendorResponseError(BackfillError):
    """The vendor answered with something unusable: an error status or a malformed page."""

    def __init__(self, request: str, problem: str, *, recoverable: bool = False) -> None:
        super().__init__(f"{request}: {problem}", recoverable=recoverable)
        self.request, self.problem = request, problem


class VendorUnavailable(VendorResponseError):
    """Retries ran out (rate limit, 5xx, connection errors): try the run again later."""

    def __init__(self, request: str, problem: str) -> None:
        super().__init__(request, problem, recoverable=True)


class LedgerError(BackfillError):
    """Kafka refused the transactional produce or the ledger could not be read."""

    def __init__(self, message: str) -> None:
        super().__init__(message, recoverable=True)
