"""The pipeline's exceptions: one root, two kinds, and the three things that go wrong.

* :class:`PipelineError` is the root. ``recoverable`` says what the caller does with it: a
  recoverable error is retried (with backoff) and loses nothing; a fatal one stops the worker,
  which leaves its offsets uncommitted so a restart resumes where it stopped.
* :class:`InvalidMessage` — this message is bad: it goes to the dead-letter queue and the stream
  moves on. ``reason`` is a short stable label (used as a metric label and a Kafka header);
  ``detail`` says what was wrong and where.
* :class:`MessageRejected` — "slow down", not "bad": a step cannot take more right now; the
  caller pauses and tries again after ``retry_after`` seconds (at least). The load worker's
  insert step raises it as :class:`ClickHouseUnavailable` for every transient failure, and the
  worker catches it in one place (``LoadWorker._write``): the partition is paused and retried
  after ``max(retry_after, its backoff delay)``.
* :class:`InsertRejected` — ClickHouse refused these *rows* for good (a value its column cannot
  hold, a violated constraint): the insert step isolates the offending rows and dead-letters them.
* :class:`SourceError` — a market-data source failed (connection, authentication, protocol).
"""

from __future__ import annotations


class PipelineError(Exception):
    """Root of every pipeline error. ``recoverable`` = retrying later can succeed."""

    recoverable: bool = False

    def __init__(self, message: str, *, recoverable: bool | None = None) -> None:
        super().__init__(message)
        if recoverable is not None:
            self.recoverable = recoverable


class RecoverableError(PipelineError):
    """A transient failure (a service is down or busy); retry with backoff."""

    recoverable = True


class FatalError(PipelineError):
    """A failure retrying cannot fix (bad configuration, lost invariants); stop the worker."""

    recoverable = False


class InvalidMessage(PipelineError):
    """A message failed decoding or validation; it belongs in the dead-letter queue."""

    recoverable = False

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class MessageRejected(RecoverableError):
    """Backpressure: the step is full; offer the message again after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClickHouseUnavailable(MessageRejected):
    """An insert into ClickHouse failed for a transient reason; the batch is kept and retried
    unchanged. ``retry_after`` is ClickHouse's hint (overload errors), 0 when it gave none."""

    def __init__(self, message: str, *, retry_after: float = 0.0) -> None:
        super().__init__(message, retry_after=retry_after)


class InsertRejected(PipelineError):
    """ClickHouse rejected an insert because of its rows; the same rows always fail.

    ``reason`` is a stable label (``clickhouse_<error name>``), ``detail`` the server's message.
    """

    recoverable = False

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class SourceError(PipelineError):
    """A market-data source failed; ``recoverable`` = reconnecting may help."""

    recoverable = True
