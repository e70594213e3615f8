"""The simulator's instruments: realistic tickers across asset classes, as numpy columns.

The first symbols mix every asset class (so even ``symbols=5`` shows equities, an ETF, crypto,
FX and an index); past the curated list, synthetic four-letter equities fill up to 100,000.
Given names (``ingest.symbol_list``) are used as they are: curated ones keep their data,
``AAA/BBB`` of two currency codes is FX, other ``X/Y`` crypto, anything else an equity.
Drift, volatility and spread are drawn per symbol from the seed; price levels, tick sizes and
venues follow the asset class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import cycle, islice

import numpy as np
import numpy.typing as npt

from pipeline.codec import AssetClass
from pipeline.sources.tickers import (
    CLASSES,
    CURATED,
    CURRENCIES,
    IX,
    LOT,
    NOTIONAL,
    ORDER,
    SPREAD_BPS,
    VOL,
    C,
    E,
    F,
    X,
)

Picked = tuple[AssetClass, tuple[str, str, float]]
"""An instrument's class and its (symbol, primary exchange, starting price)."""


@dataclass(frozen=True)
class Universe:
    """Per-symbol columns, index = symbol number."""

    symbols: tuple[str, ...]
    cls: npt.NDArray[np.int64]
    exchange: tuple[str, ...]
    price: npt.NDArray[np.float64]
    tick: npt.NDArray[np.float64]
    drift: npt.NDArray[np.float64]
    vol: npt.NDArray[np.float64]
    spread_bps: npt.NDArray[np.float64]
    notional: npt.NDArray[np.float64]
    lot: npt.NDArray[np.float64]
    weight: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.symbols)


def tick_size(cls: AssetClass, price: float) -> float:
    """Minimum price increment: a cent for exchange-listed, ~5 significant digits otherwise."""
    if cls in (E, F, IX):
        return 0.01 if price >= 1 else 0.0001
    return min(0.01, 10.0 ** (math.floor(math.log10(price)) - 5))


def _synthetic(n: int, taken: set[str], rng: np.random.Generator) -> list[tuple[str, str, float]]:
    out: list[tuple[str, str, float]] = []
    i = 0
    while len(out) < n:
        name = "".join(chr(65 + (i // 26**p) % 26) for p in (3, 2, 1, 0))
        i += 1
        if name not in taken:
            price = float(np.round(np.exp(rng.normal(3.7, 1.0)), 2)) + 1.0
            out.append((name, "XNYS" if len(out) % 2 else "XNAS", price))
    return out


def _pick(n: int, rng: np.random.Generator) -> list[Picked]:
    pools = {c: list(CURATED[c]) for c in CLASSES}
    picked: list[Picked] = []
    total = sum(len(p) for p in pools.values())
    for c in islice(cycle(ORDER), 4 * total):
        if len(picked) == n or not any(pools.values()):
            break
        if pools[c]:
            picked.append((c, pools[c].pop(0)))
    taken = {row[0] for _, row in picked}
    picked += [(E, row) for row in _synthetic(n - len(picked), taken, rng)]
    return picked


def _named(names: Sequence[str], rng: np.random.Generator) -> list[Picked]:
    """The given symbols: curated ones as known, others classed by their spelling."""
    known = {row[0]: (c, row) for c in CLASSES for row in CURATED[c]}
    picked: list[Picked] = []
    for name in names:
        base, slash, quote = name.partition("/")
        if name in known:
            picked.append(known[name])
        elif slash and base in CURRENCIES and quote in CURRENCIES:
            picked.append((X, (name, "EBS", 150.0 if "JPY" in name else 1.0)))
        elif slash:
            picked.append((C, (name, "COINBASE", round(float(np.exp(rng.normal(1.0, 2.0))), 4))))
        else:
            picked.append((E, (name, "XNAS", round(float(np.exp(rng.normal(3.7, 1.0))), 2) + 1)))
    return picked


def build_universe(n: int, seed: int, names: Sequence[str] = ()) -> Universe:
    """``n`` instruments (or exactly ``names``), deterministic for a given ``seed``."""
    rng = np.random.default_rng([seed, 0x5EED])
    picked = _named(names, rng) if names else _pick(n, rng)
    n = len(picked)
    classes = [c for c, _ in picked]
    prices = np.array([row[2] for _, row in picked], dtype=np.float64)

    def per_class(table: dict[AssetClass, tuple[float, float]]) -> npt.NDArray[np.float64]:
        lo = np.array([table[c][0] for c in classes], dtype=np.float64)
        hi = np.array([table[c][1] for c in classes], dtype=np.float64)
        return np.asarray(lo + (hi - lo) * rng.random(n), dtype=np.float64)

    return Universe(
        symbols=tuple(row[0] for _, row in picked),
        cls=np.array([CLASSES.index(c) for c in classes], dtype=np.int64),
        exchange=tuple(row[1] for _, row in picked),
        price=prices,
        tick=np.array([tick_size(c, p) for c, p in zip(classes, prices, strict=True)]),
        drift=rng.normal(0.05, 0.1, n),
        vol=per_class(VOL),
        spread_bps=per_class(SPREAD_BPS),
        notional=np.array([NOTIONAL[c] for c in classes]),
        lot=np.array([LOT[c] for c in classes]),
        weight=_activity(n),
    )


def _activity(n: int) -> npt.NDArray[np.float64]:
    """Share of the feed per symbol: a Zipf-like tail, the first names trade the most."""
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** 0.8
    return np.asarray(w / w.sum(), dtype=np.float64)
