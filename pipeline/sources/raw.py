"""Messages a source hands to the ingest worker as bytes, not as a parsed record.

The simulator's ``malformed`` anomaly must reach Kafka as bad bytes so the load worker
dead-letters them; a live feed may forward a payload it could not parse for the same reason.
:class:`RawMessage` carries such bytes with the topic type and key to produce them under.

:class:`PayloadSource` is :class:`pipeline.sources.base.Source` widened to batches of
``Record | RawMessage``; every ``Source`` is also a ``PayloadSource``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from pipeline.records import Record, RecordType


@dataclass(frozen=True, slots=True)
class RawMessage:
    """Bytes produced to the topic of ``kind`` as they are, keyed by ``key``."""

    kind: RecordType
    key: bytes
    value: bytes


Payload = Record | RawMessage


class PayloadSource(Protocol):
    """A source whose batches may also carry :class:`RawMessage` items."""

    name: str

    def batches(self) -> AsyncIterator[Sequence[Payload]]: ...

    async def aclose(self) -> None: ...
