"""The contract between the polling loop and one vendor's REST protocol.

A :class:`PollVendor` lists the requests of one poll (:meth:`PollVendor.requests`) and turns each
answer into records (:meth:`PollVendor.parse`), using the live mappers' field mapping where the
REST objects carry the stream's fields (:mod:`pipeline.sources.live.polygon_map`,
:mod:`pipeline.sources.live.alpaca_map`): canonical instruments and venues, condition
eligibility and quote sizes in shares come out the same as from the stream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pipeline.codec import Record
from pipeline.sources.live.wire import WireError
from pipeline.sources.poll.errors import MalformedResponse
from pipeline.sources.poll.http import Request

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Parsed:
    """One answer's records and how many vendor items (symbols) it carried."""

    records: list[Record]
    messages: int


class PollVendor(Protocol):
    """A vendor's REST snapshot or chart API."""

    name: str  # the ingest source name (``polygon_rest``): metrics, state files
    record_source: str  # the records' ``source`` (``polygon``): natural keys across paths
    credential: str  # the setting(s) an HTTP 401/403 points at

    def requests(self) -> list[Request]:
        """The GETs of one poll."""
        ...

    def parse(self, body: dict[str, Any], request: Request, recv_us: int) -> Parsed:
        """Records from one answer; raises MalformedResponse naming the request and field."""
        ...


def obj(value: object, where: str, field: str) -> dict[str, Any]:
    """``value`` as a JSON object, else MalformedResponse naming ``field``."""
    if not isinstance(value, dict):
        raise MalformedResponse(where, f"field {field!r} is not an object: {type(value).__name__}")
    return value


def mapped(where: str, field: str, build: Callable[..., T], *args: Any) -> T:
    """``build(*args)``; a mapper's WireError becomes MalformedResponse naming ``field``."""
    try:
        return build(*args)
    except WireError as exc:
        raise MalformedResponse(where, f"field {field!r}: {exc}") from None
