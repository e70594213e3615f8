"""A seeded tape of trades in tickwatch's wire format, generated fast enough to pre-fill a topic.

Encoding two million records through ``pipeline.codec.encode`` costs ~18 µs each (dataclass
``asdict``), so the tape encodes one real :class:`~pipeline.codec.Trade` per symbol with
``to_wire`` and then only varies the values of that JSON object (time, price, size, trade id,
receive time) with vectorised, seeded draws: same keys, same types, ~2 µs a record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import orjson

from pipeline.codec import Trade, to_wire

TICKERS = (
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "AVGO", "JPM", "V",
    "WMT", "XOM", "UNH", "MA", "PG", "JNJ", "HD", "COST", "ORCL", "BAC",
)  # fmt: skip
EXCHANGES = ("XNAS", "XNYS", "ARCX", "BATS", "IEXG")
SOURCE = "bench"


def ticker(index: int) -> str:
    """A symbol name: the listed tickers first, then ``SYM0020``, ``SYM0021``..."""
    return TICKERS[index] if index < len(TICKERS) else f"SYM{index:04d}"


@dataclass(frozen=True)
class TradeTape:
    """``count`` trades over ``symbols`` symbols, event times evenly spread over ``span_s``
    seconds from ``start_us`` (µs since the epoch). The same seed gives the same tape."""

    count: int
    seed: int
    symbols: int
    start_us: int
    span_s: float = 60.0

    def chunks(self, size: int = 100_000) -> Iterator[tuple[list[bytes], list[bytes]]]:
        """(keys, values), ``size`` records at a time, in event-time order."""
        rng = np.random.default_rng(self.seed)
        templates = [_template(ticker(i)) for i in range(self.symbols)]
        base_price = rng.uniform(20.0, 500.0, self.symbols)
        step_us = max(1, int(self.span_s * 1e6 / max(self.count, 1)))
        for first in range(0, self.count, size):
            n = min(size, self.count - first)
            yield _chunk(
                rng,
                templates=templates,
                base_price=base_price,
                ts0=self.start_us + first * step_us,
                step_us=step_us,
                n=n,
            )


def _template(symbol: str) -> dict[str, object]:
    trade = Trade(
        symbol=symbol, ts=0, price=0.0, size=0.0, exchange=EXCHANGES[0], trade_id="",
        conditions=("@",), source=SOURCE, recv_ts=0,
    )  # fmt: skip
    return to_wire(trade)


def _chunk(
    rng: np.random.Generator,
    *,
    templates: list[dict[str, object]],
    base_price: np.ndarray,
    ts0: int,
    step_us: int,
    n: int,
) -> tuple[list[bytes], list[bytes]]:
    symbol = rng.integers(0, len(templates), n)
    price = np.round(base_price[symbol] * (1.0 + rng.normal(0.0, 0.002, n)), 2).tolist()
    size = rng.integers(1, 500, n).astype(float).tolist()
    ts = (ts0 + np.arange(n, dtype=np.int64) * step_us).tolist()
    recv = (np.asarray(ts, dtype=np.int64) + rng.integers(50, 2_000, n)).tolist()
    exchange = rng.integers(0, len(EXCHANGES), n).tolist()
    keys = [str(t["symbol"]).encode() for t in templates]
    # Two flat lists of bytes: the garbage collector does not track bytes, it does track tuples.
    out_keys: list[bytes] = []
    out_values: list[bytes] = []
    for i, sym in enumerate(symbol.tolist()):
        body = templates[sym].copy()
        body["ts"] = ts[i]
        body["price"] = price[i]
        body["size"] = size[i]
        body["recv_ts"] = recv[i]
        body["exchange"] = EXCHANGES[exchange[i]]
        body["trade_id"] = f"{ts[i]:x}-{i}"
        out_keys.append(keys[sym])
        out_values.append(orjson.dumps(body))
    return out_keys, out_values
