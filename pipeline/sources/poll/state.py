"""Per-symbol watermarks of a polling source: what it has handed out, kept across restarts.

For each symbol the state holds the start (µs) of the last closed 1-minute bar, the time of
the last quote and of the last trade handed out. A poll's record at or below its watermark is
a *repeat* (the vendor re-sent it) and is skipped. Trades with a vendor id additionally pass the
source's :class:`~pipeline.sources.live.trade_ledger.TradeLedger` (their natural key).

Persistence reuses the source checkpoint mechanism (:mod:`pipeline.sources.checkpoint`): the
ingest worker calls :meth:`PollState.checkpoint` only when Kafka has acknowledged every record
handed out so far, and the file (``<ingest state dir>/poll/<source>.json``) is replaced whole.
A process killed between two checkpoints is covered by :meth:`PollState.remember_wire`: the
source reads back what Kafka got since the file's modification time (less the live ledger
recovery's margin) and raises the watermarks before it polls
(:meth:`~pipeline.sources.poll.source.PollingSource.recover`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from pipeline.sources.checkpoint import CheckpointError, read_json, write_atomic

VERSION = 1
KINDS = ("bar", "quote", "trade")


@dataclass(slots=True)
class Watermark:
    """The newest event time (µs) handed out per record kind for one symbol; -1 = none yet."""

    bar: int = -1
    quote: int = -1
    trade: int = -1


class PollState:
    """Watermarks of one polling source's symbols; persisted by :meth:`checkpoint`."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._marks: dict[str, Watermark] = {}
        if path is not None:
            self._load(path)

    def mark(self, symbol: str) -> Watermark:
        """The watermark of ``symbol`` (created empty)."""
        return self._marks.setdefault(symbol, Watermark())

    def raise_to(self, symbol: str, kind: str, ts: int) -> bool:
        """Move ``symbol``'s ``kind`` watermark up to ``ts``; True if it moved."""
        mark = self.mark(symbol)
        if ts <= getattr(mark, kind):
            return False
        setattr(mark, kind, ts)
        return True

    def remember_wire(self, body: dict[str, object], source: str) -> int:
        """Raise a watermark from a record as it is in Kafka (read back); 1 if it moved.

        Only ``source``'s 1-minute bars, quotes and trades count.
        """
        kind, symbol, ts = body.get("type"), body.get("symbol"), body.get("ts")
        if body.get("source") != source or kind not in KINDS:
            return 0
        if not isinstance(symbol, str) or isinstance(ts, bool) or not isinstance(ts, int):
            return 0
        if kind == "bar" and body.get("interval_s") != 60:
            return 0
        return int(self.raise_to(symbol, str(kind), ts))

    def checkpoint(self) -> None:
        """Write every watermark (fsynced, atomically); touches the file's time. Raises
        CheckpointError."""
        if self.path is None:
            return
        marks = {s: [m.bar, m.quote, m.trade] for s, m in sorted(self._marks.items())}
        write_atomic(self.path, orjson.dumps({"v": VERSION, "symbols": marks}))

    def _load(self, path: Path) -> None:
        data = read_json(path)
        if data is None:
            return
        symbols = data.get("symbols")
        if data.get("v") != VERSION or not isinstance(symbols, dict):
            raise CheckpointError(
                f"poll state {path}: not version {VERSION}; delete it to start over"
            )
        for symbol, values in symbols.items():
            if not (isinstance(values, list) and len(values) == 3):
                raise CheckpointError(f"poll state {path}: bad entry for {symbol!r}")
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                raise CheckpointError(f"poll state {path}: bad entry for {symbol!r}")
            self._marks[symbol] = Watermark(*values)
