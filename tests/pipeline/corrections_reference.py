"""A stream of trades with ineligible conditions, cancels and corrections, and the candles a
market-data engineer expects from it, computed in Python (issue 13 §4)."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from typing import Any

from pipeline.codec import Trade, TradeCorrection

Candle = tuple[Any, ...]


def trades(n: int, seed: int, start_us: int) -> list[Trade]:
    """``n`` trades over 150 s on 4 symbols; about one in six may not set some field."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        flags = (1, 1, 1) if rng.random() > 0.17 else rng.choice([(0, 0, 1), (0, 1, 1), (0, 0, 0)])
        out.append(
            Trade(
                f"S{rng.randrange(4)}",
                start_us + rng.randrange(150 * 10**6),
                round(rng.uniform(90, 110), 2),
                float(rng.randrange(1, 500)),
                trade_id=str(10_000 + i),
                source="alpaca",
                updates_open_close=flags[0],
                updates_high_low=flags[1],
                updates_volume=flags[2],
            )
        )
    return out


def corrections(ticks: list[Trade], seed: int) -> list[TradeCorrection]:
    """Cancels, errors and corrections of about one trade in twelve, one correction of a
    correction (a chain), and a correction that reprints a regular trade as an odd lot."""
    rng = random.Random(seed)
    out = []
    for tick in rng.sample(ticks, len(ticks) // 12):
        action = rng.choice(["cancel", "error", "correct", "correct"])
        out.append(_correction(tick, action, rng))
    first = next(c for c in out if c.action == "correct")
    again = TradeCorrection(
        first.symbol, first.ts, "correct", first.corrected_id, first.corrected_price,
        first.corrected_size, corrected_id=first.corrected_id + "b",
        corrected_price=first.corrected_price + 1.0, corrected_size=7.0, source="alpaca",
    )  # fmt: skip
    return [*out, again]


def _correction(tick: Trade, action: str, rng: random.Random) -> TradeCorrection:
    fix = TradeCorrection(tick.symbol, tick.ts, action, tick.trade_id, tick.price, tick.size,
                          source=tick.source)  # fmt: skip
    if action != "correct":
        return fix
    odd_lot = rng.random() < 0.3
    return replace(
        fix,
        corrected_id=tick.trade_id + "c",
        corrected_price=round(tick.price + rng.uniform(-3, 3), 2),
        corrected_size=float(rng.randrange(1, 500)),
        corrected_updates_open_close=0 if odd_lot else 1,
        corrected_updates_high_low=0 if odd_lot else 1,
    )


def corrected(ticks: list[Trade], fixes: list[TradeCorrection]) -> list[Trade]:
    """The trade set after the corrections: named trades removed, reprints added (a reprint that
    is itself named later is removed in turn)."""
    named = {(c.source, c.symbol, c.trade_id) for c in fixes}
    kept = [t for t in ticks if (t.source, t.symbol, t.trade_id) not in named]
    reprints = {}
    for c in fixes:
        if c.action == "correct" and (c.source, c.symbol, c.corrected_id) not in named:
            reprints[(c.source, c.symbol, c.trade_id)] = Trade(
                c.symbol, c.ts, c.corrected_price, c.corrected_size, trade_id=c.corrected_id,
                source=c.source, updates_open_close=c.corrected_updates_open_close,
                updates_high_low=c.corrected_updates_high_low,
                updates_volume=c.corrected_updates_volume,
            )  # fmt: skip
    return kept + list(reprints.values())


def reference_candles(ticks: list[Trade], bucket_us: int) -> dict[tuple[str, int], Candle]:
    """OHLCV per (symbol, bucket start in s), honouring each trade's eligibility flags; a field
    no trade of the bucket may set is None."""
    groups: dict[tuple[str, int], list[Trade]] = defaultdict(list)
    for tick in ticks:
        groups[(tick.symbol, tick.ts // bucket_us * bucket_us // 10**6)].append(tick)
    return {key: _candle(group) for key, group in groups.items()}


def _candle(group: list[Trade]) -> Candle:
    by_time = sorted((t for t in group if t.updates_open_close), key=lambda t: t.ts)
    extremes = [t.price for t in group if t.updates_high_low]
    counted = [t for t in group if t.updates_volume]
    volume = sum(t.size for t in counted)
    vwap = sum(t.price * t.size for t in counted) / volume if volume else 0.0
    return (
        by_time[0].price if by_time else None,
        max(extremes) if extremes else None,
        min(extremes) if extremes else None,
        by_time[-1].price if by_time else None,
        volume,
        vwap,  # compared within rel 1e-9: ClickHouse sums in another order
        len(group),
    )
