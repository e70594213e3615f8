"""Faults the simulator injects on purpose, so the detector and the DLQ have work to do.

Spec string (``ingest.anomalies``): comma-separated entries, times in seconds since the
simulator started, probabilities per record::

    stall:D@T[/P]   the whole feed sends nothing for D s from T (every P s if given)
    gap:D@T[/P]     the first (most active) symbol sends nothing for D s from T (default T=60)
    spike:p         a trade or quote price is off by 5-30 % (a bad print; the walk is unaffected)
    duplicate:p     a record is sent twice, identical
    malformed:p     a record is replaced by bad bytes (truncated JSON, not JSON, missing field,
                    unknown schema version, negative price), which the load worker dead-letters

Example: ``stall:30@60,gap:10@120,spike:0.001,duplicate:0.001,malformed:0.001``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import orjson

from pipeline.codec import Record, to_wire

MALFORMED_KINDS = ("truncated", "not_json", "missing_field", "unknown_version", "negative_price")


class AnomalySpecError(ValueError):
    """The anomaly spec string is wrong; the message names the entry and what was expected."""


@dataclass(frozen=True)
class Window:
    """``duration_s`` seconds from ``start_s`` (relative to the feed start), every ``every_s``."""

    start_s: float
    duration_s: float
    every_s: float = 0.0

    def covers(self, rel_s: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """True where the relative time ``rel_s`` falls inside the window."""
        rel = rel_s - self.start_s
        if self.every_s > 0:
            rel = np.where(rel >= 0, rel % self.every_s, rel)
        return (rel >= 0) & (rel < self.duration_s)


@dataclass(frozen=True)
class AnomalySpec:
    """The parsed spec; the empty spec injects nothing."""

    stalls: tuple[Window, ...] = ()
    gaps: tuple[Window, ...] = ()
    spike: float = 0.0
    duplicate: float = 0.0
    malformed: float = 0.0
    entries: tuple[str, ...] = field(default=(), compare=False)


def parse_anomalies(spec: str) -> AnomalySpec:
    """Parse ``spec``; raise :class:`AnomalySpecError` naming the first bad entry."""
    windows: dict[str, list[Window]] = {"stall": [], "gap": []}
    rates: dict[str, float] = {"spike": 0.0, "duplicate": 0.0, "malformed": 0.0}
    entries = tuple(e.strip() for e in spec.split(",") if e.strip())
    for entry in entries:
        name, _, value = entry.partition(":")
        try:
            if name in windows:
                windows[name].append(_window(value, default_start=0.0 if name == "stall" else 60.0))
            elif name in rates:
                rates[name] = _probability(value)
            else:
                raise ValueError(
                    f"unknown anomaly {name!r}; expected one of stall, gap, "
                    "spike, duplicate, malformed"
                )
        except ValueError as exc:
            raise AnomalySpecError(f"ingest.anomalies entry {entry!r}: {exc}") from None
    return AnomalySpec(tuple(windows["stall"]), tuple(windows["gap"]), entries=entries, **rates)


def _window(value: str, default_start: float) -> Window:
    head, _, every = value.partition("/")
    duration, _, start = head.partition("@")
    window = Window(
        float(start) if start else default_start, float(duration), float(every) if every else 0.0
    )
    if window.duration_s <= 0 or window.start_s < 0 or window.every_s < 0:
        raise ValueError("expected D@T[/P] with D > 0, T >= 0, P >= 0 seconds")
    if 0 < window.every_s <= window.duration_s:
        raise ValueError("the repeat period P must be longer than the duration D")
    return window


def _probability(value: str) -> float:
    p = float(value)
    if not 0.0 <= p <= 1.0:
        raise ValueError("expected a probability between 0 and 1")
    return p


def malformed_bytes(record: Record, kind: int) -> bytes:
    """The bad payload of malformed variant ``kind`` (index into :data:`MALFORMED_KINDS`)."""
    body = to_wire(record)
    name = MALFORMED_KINDS[kind % len(MALFORMED_KINDS)]
    if name == "truncated":
        return orjson.dumps(body)[:-7]
    if name == "not_json":
        return b"\xff\xfe<html>502 Bad Gateway</html>\x00"
    if name == "missing_field":
        body.pop("symbol")
    elif name == "unknown_version":
        body["v"] = 99
    else:
        price_field = "price" if "price" in body else "bid_price"
        body[price_field] = -abs(float(str(body[price_field])))
    return orjson.dumps(body)
