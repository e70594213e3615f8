"""The natural-key guard: each vendor trade enters Kafka once, across reconnects and restarts.

A trade's key is ``(source, symbol, trade_id)`` — for Polygon and Alpaca, whose ids are only
unique per exchange and trading day, the exchange and the UTC day of the trade are part of it.
A trade whose vendor sends no id (Finnhub; Polygon crypto without ``i``) has no key and is not
guarded. The ledger remembers the most recent ``capacity`` keys of one source:

* in memory, across every connection of the process: a key seen before is dropped as
  ``duplicate`` (a resubscribe that replays the last trade, a vendor that sends one twice);
* on disk, under ``<ingest state dir>/trades/<source>.keys``: :meth:`TradeLedger.checkpoint`
  appends the keys admitted since the last checkpoint (one per line, fsynced). The ingest worker
  calls it only when Kafka has acknowledged every record handed out so far
  (:mod:`pipeline.sources.checkpoint`), so a restarted source starts with the keys of every trade
  Kafka holds up to its last checkpoint. The journal is rewritten to the last ``capacity`` keys
  when it grows past twice that.

A trade Kafka acknowledged after the last checkpoint of a process that was killed (not stopped)
is not in the journal; :mod:`~pipeline.sources.live.ledger_recovery` reads those keys back from
Kafka before the restarted source connects. Not guaranteed: a key older than the last
``capacity`` keys is forgotten (vendors only re-send recent trades: the last match after a
resubscribe).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path

from pipeline.codec import Trade
from pipeline.sources.checkpoint import CheckpointError, write_atomic

# Sources whose trade ids are unique only per exchange and day.
PER_VENUE_DAY = frozenset({"polygon", "alpaca"})
_SEP = "\x1f"


def trade_key(trade: Trade) -> str | None:
    """The natural key of ``trade``, or None when the vendor sent no trade id."""
    return natural_key(trade.source, trade.symbol, trade.trade_id, trade.exchange, trade.ts)


def natural_key(source: str, symbol: str, trade_id: str, exchange: str, ts: int) -> str | None:
    """``symbol`` + ``trade_id`` (+ exchange and UTC day where ids are per venue and day)."""
    if not trade_id:
        return None
    parts = [symbol, trade_id]
    if source in PER_VENUE_DAY:
        day = datetime.fromtimestamp(ts // 1_000_000, UTC).date().isoformat()
        parts += [exchange, day]
    return _SEP.join(parts)


class TradeLedger:
    """Recent trade keys of one source; persisted by :meth:`checkpoint`."""

    def __init__(self, path: Path | None, capacity: int) -> None:
        self.path = path
        self._capacity = capacity
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._pending: list[str] = []
        self._journal_lines = 0
        if path is not None:
            self._load(path)

    def __len__(self) -> int:
        return len(self._keys)

    def admit(self, trade: Trade) -> bool:
        """True for a trade not seen before (remembered from now on); False for a duplicate."""
        key = trade_key(trade)
        if key is None:
            return True
        if key in self._keys:
            return False
        self._add(key)
        return True

    def remember_wire(self, body: dict[str, object]) -> bool:
        """Add the key of a trade as it is on the wire (read back from Kafka); True if new.

        The key goes into the journal at the next checkpoint, like an admitted trade's.
        """
        fields = (body.get("symbol"), body.get("trade_id"), body.get("exchange", ""))
        ts, source = body.get("ts"), body.get("source")
        if not all(isinstance(f, str) for f in fields) or not isinstance(ts, int):
            return False
        symbol, trade_id, exchange = (str(f) for f in fields)
        key = natural_key(str(source), symbol, trade_id, exchange, ts)
        if key is None or key in self._keys:
            return False
        self._add(key)
        return True

    def checkpoint(self) -> None:
        """Append the keys admitted since the last call to the journal (fsynced).

        The journal's modification time marks the checkpoint (it is touched even when no key
        is new): :mod:`~pipeline.sources.live.ledger_recovery` reads Kafka from there.
        """
        if self.path is None:
            return
        if not self._pending:
            self._touch(self.path)
        elif self._journal_lines + len(self._pending) > 2 * self._capacity:
            self._compact(self.path)
        else:
            self._append(self.path, self._pending)
        self._pending = []

    def _add(self, key: str) -> None:
        self._keys[key] = None
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        self._pending.append(key)

    def _touch(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError as exc:
            raise CheckpointError(f"trade ledger {path}: {exc.strerror or exc}") from None

    def _append(self, path: Path, keys: list[str]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as fh:
                fh.write("".join(f"{key}\n" for key in keys))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise CheckpointError(f"trade ledger {path}: {exc.strerror or exc}") from None
        self._journal_lines += len(keys)

    def _compact(self, path: Path) -> None:
        keys = list(self._keys)
        write_atomic(path, "".join(f"{key}\n" for key in keys).encode())
        self._journal_lines = len(keys)

    def _load(self, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            raise CheckpointError(f"trade ledger {path}: {exc}; delete it to start over") from None
        for key in lines[-self._capacity :]:
            if key:
                self._keys[key] = None
        self._journal_lines = len(lines)
