"""Fast wire encoding for the ingest hot path: ``to_wire`` + orjson without ``asdict``.

``pipeline.records.encode`` goes through ``dataclasses.asdict`` (≈14 µs a record); this encoder
reads the dataclass fields with one ``attrgetter`` (≈0.8 µs), which is what lets one ingest
process move 100k+ records/s. It reads the field list from the dataclasses, so it follows the
record definitions; the test suite checks its output equals ``to_wire`` for every type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from operator import attrgetter
from typing import Any

import orjson

from pipeline.records import SCHEMA_VERSION, Bar, Quote, Record, Trade

Getter = Callable[[Any], tuple[Any, ...]]


class WireEncoder:
    """Encodes records as schema-version-1 JSON with ``recv_ts`` filled in."""

    def __init__(self) -> None:
        self._fields: dict[type, tuple[tuple[str, ...], Getter, str]] = {}
        for cls in (Trade, Quote, Bar):
            names = tuple(f.name for f in fields(cls))
            self._fields[cls] = (names, attrgetter(*names), cls.kind.value)

    def value(self, record: Record, recv_ts: int) -> bytes:
        """The message value of ``record``; ``recv_ts`` replaces a zero ``recv_ts``."""
        names, get, kind = self._fields[type(record)]
        body = dict(zip(names, get(record), strict=True))
        body["v"] = SCHEMA_VERSION
        body["type"] = kind
        if not body["recv_ts"]:
            body["recv_ts"] = recv_ts
        return orjson.dumps(body)
