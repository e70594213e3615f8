"""The interface every tick source implements: simulator, replay files and live vendor feeds.

A source yields *batches* of records so a fast source (the simulator at 200k ticks/s) does not
pay one await per tick, while a WebSocket source yields whatever one frame carried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from pipeline.codec import Payload


class Source(Protocol):
    """A stream of normalised records (and, rarely, :class:`~pipeline.codec.RawMessage` bytes
    that must reach Kafka unparsed).

    ``batches()`` is an async iterator that ends when the source is exhausted (a replay file,
    a run duration) and otherwise runs until ``aclose()``. It raises ``SourceError`` (from
    ``pipeline.errors``) only for fatal problems (bad credentials, unreadable file); transient
    ones (a dropped connection) are retried inside the source and counted.
    """

    name: str

    def batches(self) -> AsyncIterator[Sequence[Payload]]: ...

    async def aclose(self) -> None: ...
