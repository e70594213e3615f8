"""Reading a vendor's HTTP answer: a JSON object, a quotable excerpt, ``Retry-After``.

Shared by the REST pollers (:mod:`pipeline.sources.poll.http`) and the backfill clients
(:mod:`pipeline.backfill.http`); each passes its own error type, so a bad answer is raised in
the caller's error family, naming the request.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from tickwatch.clock import WallClock
from tickwatch.sanitize import clean

QUOTE_CHARS = 200


def json_object(
    content: bytes, name: str, error: Callable[[str, str], Exception]
) -> dict[str, Any]:
    """``content`` as a JSON object, else ``error(name, detail)`` (raised) naming the request."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise error(name, f"body is not JSON ({exc}): {quote(content)}") from None
    if not isinstance(body, dict):
        raise error(name, f"expected a JSON object, got {type(body).__name__}")
    return body


def quote(text: str | bytes) -> str:
    """A short, printable excerpt of a vendor's answer for a message."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return repr(clean(text, QUOTE_CHARS) + ("…" if len(text) > QUOTE_CHARS else ""))


def retry_after_s(value: str, clock: WallClock) -> float:
    """``Retry-After`` in seconds (a number or an HTTP date); 0 when absent or unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - clock.time())
    except (TypeError, ValueError, IndexError):
        return 0.0
