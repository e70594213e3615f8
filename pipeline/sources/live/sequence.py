"""Per-key sequence checks: what was missed (gaps) and what came back late (stale).

A *contiguous* tracker expects every value to be the previous one plus one (Binance trade ids,
Coinbase trade ids per product): a jump is a gap of ``value - expected`` lost messages, the record
itself is kept. A non-contiguous tracker only expects values to grow (Polygon ``q``, Coinbase
``sequence`` on the matches/ticker channels, Binance ``bookTicker`` update ids), because the
vendor skips numbers by design. In both, a value not above the last one is stale (a duplicate or
a late message) and its record is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SequenceCheck:
    """The verdict on one value: ``stale`` (drop it) and how many values were ``missing``."""

    stale: bool = False
    missing: int = 0
    expected: int = 0


class SequenceTracker:
    """Remembers the last value per key (symbol, product)."""

    def __init__(self, contiguous: bool) -> None:
        self._contiguous = contiguous
        self._last: dict[str, int] = {}

    def check(self, key: str, value: int) -> SequenceCheck:
        """Judge ``value`` for ``key`` and remember it unless it is stale."""
        last = self._last.get(key)
        if last is not None and value <= last:
            return SequenceCheck(stale=True, expected=last + 1)
        self._last[key] = value
        if last is None or not self._contiguous:
            return SequenceCheck()
        return SequenceCheck(missing=value - last - 1, expected=last + 1)

    def reset(self) -> None:
        """Forget everything (a new connection starts a new sequence space)."""
        self._last.clear()
