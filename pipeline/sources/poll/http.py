"""One HTTP GET of a vendor's JSON, classified: the body, a transient failure, or an error.

The poller asks once per request and decides what to do with the outcome itself (wait out a
backoff before the next poll): there is no retry loop here, so a poll never blocks past
``timeout_s`` per request. Outcomes:

* 200 with a JSON object → the decoded body (a body that is not a JSON object is a
  :class:`~pipeline.sources.poll.errors.MalformedResponse`);
* 429 → :class:`Transient` ``rate_limited`` with the server's ``Retry-After`` (seconds or an
  HTTP date); 5xx → ``server_error`` (with its ``Retry-After``, if any); a timeout →
  ``timeout``; another transport error → ``transport``;
* 401/403 → :class:`~pipeline.sources.poll.errors.PollAuthError` naming the source and the
  credential setting; another 4xx → ``MalformedResponse`` with the vendor's text, quoted short.

Requests are named ``GET <url>`` in every message; credentials travel in headers only, so no
URL, log line or error ever holds one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from pipeline.sources.poll.errors import MalformedResponse, PollAuthError
from tickwatch.clock import WallClock
from tickwatch.vendor_answers import json_object, quote, retry_after_s

RATE_LIMITED, SERVER_ERROR, TIMEOUT, TRANSPORT = (
    "rate_limited",
    "server_error",
    "timeout",
    "transport",
)


@dataclass(frozen=True, slots=True)
class Request:
    """One GET: URL, query and headers (credentials), named for messages without them."""

    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"GET {httpx.Request('GET', self.url, params=dict(self.params)).url}"


@dataclass(frozen=True, slots=True)
class Transient:
    """A failure the next poll may not meet: why, and how long the server asked us to wait."""

    reason: str
    problem: str
    retry_after_s: float = 0.0


async def fetch(
    client: httpx.AsyncClient, request: Request, *, source: str, credential: str, clock: WallClock
) -> dict[str, Any] | Transient:
    """The JSON object ``request`` answers, or the transient problem.

    Raises PollAuthError (401/403; ``credential`` names the setting) or MalformedResponse.
    """
    try:
        response = await client.get(
            request.url, params=dict(request.params), headers=dict(request.headers)
        )
    except httpx.TimeoutException as exc:
        return Transient(TIMEOUT, f"{request.name}: timed out ({type(exc).__name__})")
    except httpx.TransportError as exc:
        return Transient(TRANSPORT, f"{request.name}: {type(exc).__name__}: {exc}")
    return _classify(response, request, source, credential, clock)


def _classify(
    response: httpx.Response, request: Request, source: str, credential: str, clock: WallClock
) -> dict[str, Any] | Transient:
    status, name = response.status_code, request.name
    if status == 429:
        wait = retry_after_s(response.headers.get("Retry-After", ""), clock)
        return Transient(RATE_LIMITED, f"{name}: HTTP 429 Too Many Requests", wait)
    if status >= 500:
        wait = retry_after_s(response.headers.get("Retry-After", ""), clock)
        return Transient(SERVER_ERROR, f"{name}: HTTP {status}", wait)
    if status in (401, 403):
        raise PollAuthError(
            f"{source}: {name} answered HTTP {status} ({quote(response.text)}): "
            f"the vendor rejected the credentials; check {credential}"
        )
    if status >= 400:
        raise MalformedResponse(name, f"HTTP {status}: {quote(response.text)}")
    return decode_object(response.content, name)


def decode_object(content: bytes, name: str) -> dict[str, Any]:
    """``content`` as a JSON object, else MalformedResponse naming the request."""
    return json_object(content, name, MalformedResponse)
