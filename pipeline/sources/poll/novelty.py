"""Which of a poll's records are new: closed bars past the watermark, quotes and trades too.

The rules (one poll's records for one source, in the order the vendor listed them):

* **bars** (1-minute): a bar is emitted once its minute has closed by our clock
  (``ts + interval <= now``) and its start is above the symbol's bar watermark. A bar still
  forming is held back — it is not counted as anything and will be emitted by a later poll that
  sees it closed (it is *not* a new bar each time its values change). A closed bar at or below
  the watermark is a skipped repeat, whether its values changed or not (the first closed value
  is the one kept; the natural key (source, symbol, interval, ts) is already in Kafka).
* **quotes**: new when the quote time is above the symbol's quote watermark; else a repeat.
* **trades**: with a vendor id, new when the ledger admits its natural key (it remembers keys
  across restarts); without one, new when the trade time is above the trade watermark.

Everything skipped is counted per record type in :class:`Novelty`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.codec import Bar, Quote, Record, Trade
from pipeline.sources.live.trade_ledger import TradeLedger
from pipeline.sources.poll.state import PollState


@dataclass
class Novelty:
    """What one poll's filter kept and skipped."""

    records: list[Record] = field(default_factory=list)
    repeats: Counter[str] = field(default_factory=Counter)  # per record type
    forming: int = 0  # bars whose minute has not closed yet


def new_records(
    records: Sequence[Record], state: PollState, ledger: TradeLedger, now_us: int
) -> Novelty:
    """Filter ``records`` against the watermarks (raised for what is kept)."""
    out = Novelty()
    for record in records:
        if isinstance(record, Bar) and record.ts + record.interval_s * 1_000_000 > now_us:
            out.forming += 1
        elif _is_new(record, state, ledger):
            out.records.append(record)
        else:
            out.repeats[record.kind.value] += 1
    return out


def _is_new(record: Record, state: PollState, ledger: TradeLedger) -> bool:
    if isinstance(record, Bar):
        return state.raise_to(record.symbol, "bar", record.ts)
    if isinstance(record, Quote):
        return state.raise_to(record.symbol, "quote", record.ts)
    if isinstance(record, Trade):
        if record.trade_id:
            admitted = ledger.admit(record)
            if admitted:
                state.raise_to(record.symbol, "trade", record.ts)
            return admitted
        return state.raise_to(record.symbol, "trade", record.ts)
    return True
