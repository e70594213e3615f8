"""The simulator's market model: ticks generated a block at a time, vectorised with numpy.

Record ``i`` of the feed is scheduled at ``start + i / rate``; block ``k`` holds records
``k*BLOCK .. (k+1)*BLOCK-1`` and draws its randomness from ``(seed, k)``, so the feed is a pure
function of the seed, the start time and the settings, whatever pace it is read at.

Within a block: pick symbols (busier names more often), pick quote or trade, drop what is
silent (market closed, a stall, a gap), move each symbol's mid price by a geometric random walk
over the time since its previous tick, then derive bid/ask on the tick grid and trade at the bid
or the ask; finally mark spikes, duplicates and malformed records.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.sources.anomalies import MALFORMED_KINDS, AnomalySpec
from pipeline.sources.tickers import CLASSES, IX
from pipeline.sources.universe import Universe
from tickwatch.market_hours import InstrumentHours

BLOCK = 8192
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
YEAR_S = np.array([252 * 6.5 * 3600] * 3 + [365.25 * 86400] * 2)
"""Seconds in a year of trading per class (E, F, IX listed hours; crypto and FX all year)."""


@dataclass(frozen=True)
class Block:
    """Columns of the records that survived masking, in schedule order."""

    idx: I64
    ts: I64
    sym: I64
    quote: npt.NDArray[np.bool_]
    price: F64
    size: F64
    bid: F64
    ask: F64
    bid_size: F64
    ask_size: F64
    dup: npt.NDArray[np.bool_]
    bad: I64
    venue: I64


class MarketModel:
    """Generates :class:`Block` ``k`` after ``k-1`` (the random walk carries state)."""

    def __init__(
        self,
        universe: Universe,
        *,
        seed: int,
        rate: float,
        quote_ratio: float,
        start_us: int,
        hours: InstrumentHours,
        anomalies: AnomalySpec,
    ) -> None:
        self.universe, self.seed, self.start_us = universe, seed, start_us
        self.us_per_record = 1e6 / rate
        self.p_quote = quote_ratio / (1.0 + quote_ratio)
        self.hours, self.anomalies = hours, anomalies
        year = YEAR_S[universe.cls]
        self._sigma = universe.vol / np.sqrt(year)
        self._mu = universe.drift / year - 0.5 * self._sigma**2
        self._logp = np.log(universe.price)
        self._last_ts = np.full(len(universe), start_us, dtype=np.int64)
        self._decimals = np.round(-np.log10(universe.tick)).astype(np.int64)
        self._index_class = CLASSES.index(IX)

    def scheduled_ts(self, idx: int) -> int:
        """Scheduled time (epoch µs) of record ``idx``."""
        return self.start_us + int(idx * self.us_per_record)

    def block(self, k: int) -> Block:
        """Generate block ``k``; call with k = 0, 1, 2... in order."""
        rng = np.random.default_rng([self.seed, 1, k])
        u = self.universe
        idx = np.arange(k * BLOCK, (k + 1) * BLOCK, dtype=np.int64)
        ts = self.start_us + (idx * self.us_per_record).astype(np.int64)
        sym = rng.choice(len(u), BLOCK, p=u.weight).astype(np.int64)
        quote = (rng.random(BLOCK) < self.p_quote) & (u.cls[sym] != self._index_class)
        keep = self._audible(ts, sym)
        idx, ts, sym, quote = idx[keep], ts[keep], sym[keep], quote[keep]
        mid = self._walk(ts, sym, rng)
        bid, ask, price = self._book(mid, sym, rng)
        size, bid_size, ask_size = (self._size(mid, sym, rng, f) for f in (1.0, 3.0, 3.0))
        price, bid, ask = self._spike(price, bid, ask, sym, rng)
        a = self.anomalies
        dup = rng.random(len(idx)) < a.duplicate
        bad = np.where(
            rng.random(len(idx)) < a.malformed, rng.integers(0, len(MALFORMED_KINDS), len(idx)), -1
        )
        venue = rng.integers(0, 1 << 30, len(idx))
        return Block(
            idx, ts, sym, quote, price, size, bid, ask, bid_size, ask_size, dup, bad, venue
        )

    def _audible(self, ts: I64, sym: I64) -> npt.NDArray[np.bool_]:
        keep = self.hours.open_mask(ts, sym)
        rel = (ts - self.start_us) / 1e6
        for w in self.anomalies.stalls:
            keep &= ~w.covers(rel)
        for w in self.anomalies.gaps:
            keep &= ~(w.covers(rel) & (sym == 0))
        return keep

    def _walk(self, ts: I64, sym: I64, rng: np.random.Generator) -> F64:
        """Log-price path per symbol: segment-wise cumulative sums over a symbol-sorted view."""
        if not len(sym):  # a block entirely outside trading hours (a weekend at a low rate)
            return np.zeros(0, dtype=np.float64)
        order = np.argsort(sym, kind="stable")
        s, t = sym[order], ts[order]
        first = np.ones(len(s), dtype=np.bool_)
        first[1:] = s[1:] != s[:-1]
        prev = np.empty_like(t)
        prev[1:] = t[:-1]
        prev[first] = self._last_ts[s[first]]
        dt = (t - prev) / 1e6
        step = self._mu[s] * dt + self._sigma[s] * np.sqrt(dt) * rng.standard_normal(len(s))
        total = np.cumsum(step)
        starts = np.flatnonzero(first)
        base = np.repeat(total[starts] - step[starts], np.diff(np.append(starts, len(s))))
        logp = self._logp[s] + total - base
        last = np.append(starts[1:], len(s)) - 1
        self._logp[s[last]] = logp[last]
        self._last_ts[s[last]] = t[last]
        out = np.empty_like(logp)
        out[order] = logp
        return np.asarray(np.exp(out), dtype=np.float64)

    def _book(self, mid: F64, sym: I64, rng: np.random.Generator) -> tuple[F64, F64, F64]:
        u = self.universe
        tick = u.tick[sym]
        spread = np.maximum(1.0, np.round(mid * u.spread_bps[sym] / 1e4 / tick))
        spread *= 1.0 + (rng.random(len(sym)) < 0.2)
        bid = np.maximum(1.0, np.floor(mid / tick - spread / 2)) * tick
        ask = bid + spread * tick
        price = np.where(rng.random(len(sym)) < 0.5, bid, ask)
        price = np.where(u.cls[sym] == self._index_class, np.round(mid / tick) * tick, price)
        return self._on_grid(bid, sym), self._on_grid(ask, sym), self._on_grid(price, sym)

    def _on_grid(self, values: F64, sym: I64) -> F64:
        """Round to each symbol's tick decimals so 230.01 does not print as 230.01000000000002."""
        decimals = self._decimals[sym]
        out = values.copy()
        for d in np.unique(decimals):
            sel = decimals == d
            out[sel] = np.round(values[sel], int(d))
        return out

    def _size(self, mid: F64, sym: I64, rng: np.random.Generator, scale: float) -> F64:
        u = self.universe
        lot = u.lot[sym]
        notional = u.notional[sym] * scale * np.exp(rng.normal(0.0, 1.0, len(sym)))
        size = np.maximum(1.0, np.round(notional / mid / lot)) * lot
        round_lots = (lot == 1.0) & ((size >= 100) | (scale > 1.0))  # quotes: whole round lots
        size = np.where(round_lots, np.maximum(100.0, np.round(size / 100) * 100), size)
        return np.where(u.notional[sym] == 0, 0.0, np.round(size, 6))

    def _spike(
        self, price: F64, bid: F64, ask: F64, sym: I64, rng: np.random.Generator
    ) -> tuple[F64, F64, F64]:
        n = len(sym)
        hit = rng.random(n) < self.anomalies.spike
        if not hit.any():
            return price, bid, ask
        sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        factor = np.where(hit, 1.0 + sign * rng.uniform(0.05, 0.3, n), 1.0)
        tick = self.universe.tick[sym]
        bid = self._on_grid(np.maximum(tick, bid * factor), sym)
        ask = self._on_grid(np.maximum(bid + tick, ask * factor), sym)
        return self._on_grid(np.maximum(tick, price * factor), sym), bid, ask
