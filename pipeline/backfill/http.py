"""GET a vendor's JSON page: rate limits and transient failures retried under the kernel backoff.

* HTTP 429: wait ``Retry-After`` (seconds or an HTTP date) or, without one, the backoff's next
  delay — whichever is longer — then retry; the same for 5xx and connection errors.
* After ``max_retries`` retries :class:`VendorUnavailable`; any other 4xx, a body that is not
  JSON or not an object: :class:`VendorResponseError` at once.
* Every error names the request as ``GET <url>``. Credentials travel in headers only, so the
  URL never holds one; the vendor's error text is quoted, shortened and printable-only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from loguru import logger

from pipeline.backfill.errors import VendorResponseError, VendorUnavailable
from tickwatch.backoff import Attempts, Backoff
from tickwatch.clock import WallClock
from tickwatch.vendor_answers import json_object, quote, retry_after_s

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class Transient:
    """A failure worth retrying: what went wrong, and how long the server asked us to wait."""

    problem: str
    retry_after_s: float = 0.0


class JsonGetter:
    """One vendor's HTTP client: ``get(url, params)`` -> the decoded JSON object.

    Blocks while it waits between retries (``sleep`` is injected). Counts ``rate_limited``
    (429 answers) and ``retried`` (every retry) for the run's report.
    """

    def __init__(
        self,
        client: httpx.Client,
        backoff: Backoff,
        max_retries: int,
        *,
        sleep: Sleep,
        clock: WallClock,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._client, self._backoff, self._max = client, backoff, max_retries
        self._sleep, self._clock, self._headers = sleep, clock, dict(headers or {})
        self.rate_limited = 0
        self.retried = 0

    def get(self, url: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        """The JSON object at ``url``; raises VendorResponseError / VendorUnavailable."""
        name = f"GET {httpx.Request('GET', url, params=params).url}"
        attempts = Attempts(self._backoff)
        while True:
            outcome = self._attempt(url, params, name)
            if not isinstance(outcome, Transient):
                return outcome
            if attempts.attempt >= self._max:
                raise VendorUnavailable(
                    name, f"{outcome.problem}; gave up after {self._max} retries"
                )
            delay = max(outcome.retry_after_s, attempts.next_delay())
            self.retried += 1
            logger.warning("{}: {}; retrying in {:.1f} s", name, outcome.problem, delay)
            self._sleep(delay)

    def _attempt(
        self, url: str, params: Mapping[str, str | int] | None, name: str
    ) -> dict[str, Any] | Transient:
        """The decoded body, or the transient problem; raises VendorResponseError."""
        try:
            response = self._client.get(url, params=params, headers=self._headers)
        except httpx.TransportError as exc:
            return Transient(f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if status == 429:
            self.rate_limited += 1
            return Transient("HTTP 429 Too Many Requests", self._retry_after(response))
        if status >= 500:
            return Transient(f"HTTP {status}", self._retry_after(response))
        if status >= 400:
            raise VendorResponseError(name, f"HTTP {status}: {quote(response.text)}")
        return decode_object(response.content, name)

    def _retry_after(self, response: httpx.Response) -> float:
        return retry_after_s(response.headers.get("Retry-After", ""), self._clock)


def decode_object(content: bytes, name: str) -> dict[str, Any]:
    """``content`` as a JSON object, else VendorResponseError naming the request."""
    return json_object(content, name, VendorResponseError)
