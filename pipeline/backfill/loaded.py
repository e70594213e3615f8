"""What is already loaded: drop the records of a page whose natural key ``market`` holds.

Bars: (source, symbol, interval_s, event_time), where the symbol may be spelled the live
stream's way (Polygon's stream says ``BTC-USD`` for the REST ticker ``X:BTCUSD``), so a bar
also matches by its canonical ``instrument``. Trades: the live path's natural key
(:func:`pipeline.sources.live.trade_ledger.natural_key`: source, symbol, trade id, and for
Polygon and Alpaca the exchange and UTC day, as their ids are unique only per venue and day),
computed the same way for the rows already in ``market.trades`` and for the page. The query
window is widened by a millisecond on each side: streamed trades carry whole milliseconds
(Polygon's ``t``), backfilled ones microseconds, and the key does not hold the exact time.
A trade without a vendor id has no natural key and is never dropped here.

Records still in Kafka, not yet loaded, are read once per symbol before its first page
(:meth:`Loaded.begin`, :mod:`pipeline.backfill.inflight` gives the order that makes the two
halves see everything produced before the run).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from clickhouse_connect.driver.client import Client

from pipeline.backfill.inflight import InFlight
from pipeline.backfill.interval import Span
from pipeline.backfill.pages import History
from pipeline.backfill.symbols import of
from pipeline.codec import Bar, Trade
from pipeline.sources.live.trade_ledger import natural_key, trade_key

WIDEN_US = 1_000
_RANGE = (
    "event_time BETWEEN fromUnixTimestamp64Micro({lo:Int64}, 'UTC') "
    "AND fromUnixTimestamp64Micro({hi:Int64}, 'UTC')"
)


class Loaded(Protocol):
    """The natural-key filter of one record type."""

    table: str

    def begin(self, symbol: str, interval_s: int, spans: Sequence[Span]) -> None:
        """Before the first page of ``symbol``: remember the keys still in Kafka in ``spans``."""
        ...

    def fresh(self, records: Sequence[History]) -> list[History]:
        """``records`` without those already loaded or in flight (and without repeats among
        themselves)."""
        ...


def _inside(ts: object, spans: Sequence[Span], widen_us: int = 0) -> bool:
    return isinstance(ts, int) and any(
        s.lo_us - widen_us <= ts <= s.hi_us + widen_us for s in spans
    )


class LoadedBars:
    """Bars already in ``<market>.bars`` for the page's source, symbol, interval and times."""

    table = "bars"

    def __init__(
        self, client: Client, market_db: str, source: str, in_flight: InFlight | None = None
    ) -> None:
        self._client, self._db, self._source = client, market_db, source
        self._in_flight, self._unloaded = in_flight, set[str]()

    def begin(self, symbol: str, interval_s: int, spans: Sequence[Span]) -> None:
        instrument = of(symbol).instrument

        def match(body: dict[str, Any]) -> str | None:
            same = body.get("symbol") == symbol or body.get("instrument") == instrument
            if not (body.get("type") == "bar" and same and body.get("source") == self._source):
                return None
            ok = body.get("interval_s") == interval_s and _inside(body.get("ts"), spans)
            return str(body["ts"]) if ok else None

        self._unloaded = self._in_flight.keys(match) if self._in_flight and spans else set()

    def fresh(self, records: Sequence[History]) -> list[History]:
        bars = [r for r in records if isinstance(r, Bar)]
        if not bars:
            return []
        first = bars[0]
        result = self._client.query(
            f"SELECT DISTINCT toUnixTimestamp64Micro(event_time) FROM {self._db}.bars "
            f"WHERE source = {{s:String}} AND interval_s = {{i:UInt32}} AND (symbol = {{y:String}}"
            f" OR (instrument = {{n:String}} AND instrument != '')) AND {_RANGE}",
            parameters={
                "s": self._source, "y": first.symbol, "n": first.instrument,
                "i": first.interval_s, "lo": bars[0].ts, "hi": bars[-1].ts,
            },
        )  # fmt: skip
        loaded = {int(row[0]) for row in result.result_rows}
        out: list[History] = []
        for bar in bars:
            if bar.ts not in loaded and str(bar.ts) not in self._unloaded:
                loaded.add(bar.ts)
                out.append(bar)
        return out


class LoadedTrades:
    """Trades already in ``<market>.trades`` with the same natural key."""

    table = "trades"

    def __init__(
        self, client: Client, market_db: str, source: str, in_flight: InFlight | None = None
    ) -> None:
        self._client, self._db, self._source = client, market_db, source
        self._in_flight, self._unloaded = in_flight, set[str]()

    def begin(self, symbol: str, interval_s: int, spans: Sequence[Span]) -> None:
        def match(body: dict[str, Any]) -> str | None:
            if body.get("type") != "trade" or body.get("source") != self._source:
                return None
            ts, trade_id = body.get("ts"), body.get("trade_id")
            if body.get("symbol") != symbol or not _inside(ts, spans, WIDEN_US):
                return None
            exchange = str(body.get("exchange", ""))
            return natural_key(self._source, symbol, str(trade_id or ""), exchange, int(str(ts)))

        self._unloaded = self._in_flight.keys(match) if self._in_flight and spans else set()

    def fresh(self, records: Sequence[History]) -> list[History]:
        trades = [r for r in records if isinstance(r, Trade)]
        if not trades:
            return []
        seen = self._keys(trades[0].symbol, trades[0].ts - WIDEN_US, trades[-1].ts + WIDEN_US)
        seen |= self._unloaded
        out: list[History] = []
        for trade in trades:
            key = trade_key(trade)
            if key is not None and key in seen:
                continue
            if key is not None:
                seen.add(key)
            out.append(trade)
        return out

    def _keys(self, symbol: str, lo_us: int, hi_us: int) -> set[str]:
        result = self._client.query(
            "SELECT trade_id, exchange, toUnixTimestamp64Micro(event_time) "
            f"FROM {self._db}.trades WHERE source = {{s:String}} AND symbol = {{y:String}} "
            f"AND trade_id != '' AND {_RANGE}",
            parameters={"s": self._source, "y": symbol, "lo": lo_us, "hi": hi_us},
        )
        keys = (
            natural_key(self._source, symbol, str(tid), str(exchange), int(ts))
            for tid, exchange, ts in result.result_rows
        )
        return {k for k in keys if k is not None}
