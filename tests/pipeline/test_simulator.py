"""The simulator: deterministic, on schedule, realistic prices, anomalies and calendar as told."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime

import orjson
import pytest

from pipeline.codec import (
    AssetClass,
    Bar,
    Payload,
    Quote,
    RawMessage,
    Record,
    RecordType,
    Trade,
    ValidationRules,
    decode,
    encode_value,
    validate,
)
from pipeline.errors import InvalidMessage
from pipeline.sources.anomalies import AnomalySpecError, parse_anomalies
from pipeline.sources.simulator import (
    LOW_RATE_WAIT_S,
    MIN_WAIT_S,
    Simulator,
    shortest_wait_s,
)
from pipeline.sources.universe import build_universe
from tickwatch.clock import ManualClock
from tickwatch.market_hours import CalendarNameError
from tickwatch.settings import IngestSettings, LoadSettings

FRIDAY_OPEN = datetime(2026, 11, 20, 15, 0, tzinfo=UTC).timestamp()  # 10:00 New York
SATURDAY = datetime(2026, 11, 21, 15, 0, tzinfo=UTC).timestamp()
LISTED = {AssetClass.EQUITY, AssetClass.ETF, AssetClass.INDEX}


def run(seconds: float, start: float = FRIDAY_OPEN, **settings: object) -> list[Payload]:
    """Everything the simulator emits during ``seconds`` of simulated time."""
    clock = ManualClock(start)
    sim = Simulator(IngestSettings.model_validate(settings), clock)

    async def collect() -> list[Payload]:
        out: list[Payload] = []
        async for batch in sim.batches():
            assert all(getattr(i, "ts", 0) <= clock.time() * 1e6 for i in batch), "ahead of time"
            out += batch
            if clock.time() >= start + seconds:
                break
        await sim.aclose()
        return out

    return asyncio.run(collect())


def ticks(items: list[Payload]) -> list[Trade | Quote]:
    return [i for i in items if isinstance(i, Trade | Quote)]


def test_same_seed_gives_the_same_records() -> None:
    first = run(20, seed=7, rate=500, anomalies="spike:0.01,duplicate:0.01,malformed:0.01")
    again = run(20, seed=7, rate=500, anomalies="spike:0.01,duplicate:0.01,malformed:0.01")
    other = run(20, seed=8, rate=500, anomalies="spike:0.01,duplicate:0.01,malformed:0.01")
    assert first == again
    assert ticks(first) != ticks(other)


@pytest.mark.parametrize(("rate", "seconds"), [(2.0, 60.0), (1000.0, 30.0), (200_000.0, 1.0)])
def test_rate_is_kept_on_the_injected_clock(rate: float, seconds: float) -> None:
    items = run(seconds, rate=rate, quote_ratio=2.0)
    end_us = (FRIDAY_OPEN + seconds) * 1e6
    in_window = [t for t in ticks(items) if t.ts < end_us]
    assert len(in_window) == round(rate * seconds)


def test_quote_ratio_is_kept() -> None:
    kinds = Counter(type(t).__name__ for t in ticks(run(30, rate=1000, quote_ratio=2.0)))
    assert 1.5 < kinds["Quote"] / kinds["Trade"] < 2.5  # a bit under 2: indices only trade


def test_prices_sizes_and_spreads_are_valid() -> None:
    items = run(60, symbols=40, rate=2000)
    universe = build_universe(40, 42)
    tick = dict(zip(universe.symbols, universe.tick.tolist(), strict=True))
    assert {t.asset_class for t in ticks(items)} == set(AssetClass)
    for t in ticks(items):
        assert re.fullmatch(LoadSettings().symbol_pattern, t.symbol)
        if isinstance(t, Quote):
            assert 0 < t.bid_price < t.ask_price
            assert t.bid_size > 0 and t.ask_size > 0
            steps = (t.ask_price - t.bid_price) / tick[t.symbol]
            assert abs(steps - round(steps)) < 1e-6
        else:
            assert t.price > 0 and t.size >= 0
            assert (t.size == 0) == (t.asset_class is AssetClass.INDEX)


def test_prices_walk_but_stay_near_their_level() -> None:
    items = run(120, symbols=5, rate=500)
    trades: dict[str, list[float]] = defaultdict(list)
    for t in ticks(items):
        if isinstance(t, Trade):
            trades[t.symbol].append(t.price)
    for prices in trades.values():
        assert len(set(prices)) > 3
        assert max(prices) / min(prices) < 1.05  # two minutes of realistic volatility


def test_every_record_passes_the_load_workers_validation() -> None:
    items = run(30, rate=1000, symbols=30)
    rules = ValidationRules.from_settings(LoadSettings())
    for record in items:
        assert not isinstance(record, RawMessage)
        body = decode(encode_value(record, int(FRIDAY_OPEN * 1e6)))
        validate(body, record.kind, rules, int((FRIDAY_OPEN + 30) * 1e6))


def test_one_minute_bars_match_the_trades() -> None:
    items = run(125, symbols=4, rate=200)
    bars = [i for i in items if isinstance(i, Bar)]
    first_minute = int(FRIDAY_OPEN // 60 * 60 * 1e6)
    assert {b.ts for b in bars} == {first_minute, first_minute + 60_000_000}
    for bar in (b for b in bars if b.ts == first_minute):
        prices = [
            t.price
            for t in ticks(items)
            if isinstance(t, Trade)
            and t.symbol == bar.symbol
            and first_minute <= t.ts < first_minute + 60_000_000
        ]
        assert bar.trade_count == len(prices)
        assert (bar.open, bar.close) == (prices[0], prices[-1])
        assert (bar.low, bar.high) == (min(prices), max(prices))
        assert bar.low <= bar.vwap <= bar.high


def test_closed_calendar_silences_listed_instruments_only() -> None:
    items = ticks(run(60, start=SATURDAY, trading_calendar="XNYS", symbols=20, rate=1000))
    classes = {t.asset_class for t in items}
    assert classes == {AssetClass.CRYPTO}  # FX is closed on Saturdays too
    open_items = ticks(run(10, start=FRIDAY_OPEN, trading_calendar="XNYS", rate=1000))
    assert {t.asset_class for t in open_items} >= LISTED


def test_stall_and_gap_silence_the_feed_and_one_symbol() -> None:
    items = ticks(run(60, rate=1000, anomalies="stall:10@20,gap:15@35"))
    rel = [(t.ts / 1e6 - FRIDAY_OPEN, t.symbol) for t in items]
    assert not [r for r, _ in rel if 20 <= r < 30]
    assert [r for r, _ in rel if 19 <= r < 20] and [r for r, _ in rel if 30 <= r < 31]
    first = build_universe(20, 42).symbols[0]
    assert not [r for r, s in rel if s == first and 35 <= r < 50]
    assert [r for r, s in rel if s != first and 35 <= r < 50]
    assert [r for r, s in rel if s == first and 50 <= r < 60]


def test_spikes_duplicates_and_malformed_are_injected() -> None:
    items = run(60, rate=2000, anomalies="spike:0.01,duplicate:0.01,malformed:0.01")
    n = len(items)
    raws = [i for i in items if isinstance(i, RawMessage)]
    assert 0.005 * n < len(raws) < 0.02 * n
    duplicates = sum(1 for a, b in itertools.pairwise(items) if a == b)
    assert 0.005 * n < duplicates < 0.02 * n
    rules = ValidationRules.from_settings(LoadSettings())
    reasons = Counter(_rejection(raw, rules) for raw in raws)
    assert set(reasons) == {"malformed_json", "missing_field", "schema_version", "bad_price"}
    assert all(raw.kind in (RecordType.TRADE, RecordType.QUOTE) for raw in raws)
    assert _spikes(ticks(items)) > 0.003 * n


def _rejection(raw: RawMessage, rules: ValidationRules) -> str:
    with pytest.raises(InvalidMessage) as caught:
        validate(decode(raw.value), raw.kind, rules, int((FRIDAY_OPEN + 60) * 1e6))
    return caught.value.reason


def _spikes(items: list[Trade | Quote]) -> int:
    last: dict[str, float] = {}
    jumps = 0
    for t in items:
        price = t.price if isinstance(t, Trade) else t.bid_price
        if t.symbol in last and abs(price / last[t.symbol] - 1) > 0.04:
            jumps += 1
        last[t.symbol] = price
    return jumps


def test_no_anomalies_means_none() -> None:
    items = run(20, rate=2000)
    assert not [i for i in items if isinstance(i, RawMessage)]
    assert _spikes(ticks(items)) == 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("stall:abc", "'stall:abc'"),
        ("boom:1", "unknown anomaly 'boom'"),
        ("spike:2", "probability"),
        ("gap:10@5/5", "longer than the duration"),
    ],
)
def test_bad_anomaly_spec_names_the_entry(spec: str, message: str) -> None:
    with pytest.raises(AnomalySpecError, match=re.escape(message)):
        parse_anomalies(spec)


def test_universe_scales_to_many_unique_symbols() -> None:
    universe = build_universe(5000, 1)
    assert len(set(universe.symbols)) == 5000
    assert universe.symbols[:5] == ("AAPL", "SPY", "BTC/USD", "EUR/USD", "MSFT")
    assert (universe.price > 0).all() and (universe.tick > 0).all()


def _record_types(items: list[Payload]) -> set[type[Record]]:
    return {type(i) for i in items if not isinstance(i, RawMessage)}


def test_wire_format_carries_every_field_and_the_receive_time() -> None:
    from dataclasses import asdict, replace

    items = run(61, symbols=3, rate=50)
    assert _record_types(items) == {Trade, Quote, Bar}
    for record in items:
        assert not isinstance(record, RawMessage)
        body = orjson.loads(encode_value(record, 123))
        expected = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(record).items()}
        expected |= {"v": 1, "type": record.kind.value, "recv_ts": 123}
        assert body == expected
    first = items[0]
    assert not isinstance(first, RawMessage)
    kept = replace(first, recv_ts=99)  # a recv_ts set by the source is kept
    assert orjson.loads(encode_value(kept, 123))["recv_ts"] == 99


def test_unknown_calendar_is_a_clear_error() -> None:
    with pytest.raises(CalendarNameError, match=r"ingest\.trading_calendar 'XNOPE'"):
        Simulator(IngestSettings(trading_calendar="XNOPE"))


def test_symbol_list_is_simulated_as_given() -> None:
    items = ticks(run(10, rate=500, symbol_list="aapl,EUR/GBP,PEPE/USD,ZZZT"))
    classes = {t.symbol: t.asset_class for t in items}
    assert classes == {
        "AAPL": AssetClass.EQUITY,
        "EUR/GBP": AssetClass.FX,
        "PEPE/USD": AssetClass.CRYPTO,
        "ZZZT": AssetClass.EQUITY,
    }
    aapl = [t.price for t in items if isinstance(t, Trade) and t.symbol == "AAPL"]
    assert 200 < min(aapl) <= max(aapl) < 260  # the curated level


@pytest.mark.parametrize(
    ("rate", "reads_per_s"), [(200.0, 10), (300.0, 15), (1000.0, 50), (5_000.0, 100), (2.0, 2)]
)
def test_reads_a_second_follow_the_rate_on_the_injected_clock(
    rate: float, reads_per_s: int
) -> None:
    """A read waits for 20 records, between 10 and 100 ms; a feed slower than one record per
    100 ms is read when its next record is due."""
    clock = ManualClock(FRIDAY_OPEN)
    sim = Simulator(IngestSettings(rate=rate, symbols=20), clock)
    reads = 0

    async def count() -> None:
        nonlocal reads
        async for _ in sim.batches():
            if clock.time() >= FRIDAY_OPEN + 10.0:
                break
            reads += 1

    asyncio.run(count())
    assert abs(reads - reads_per_s * 10) <= 2


def test_shortest_wait_holds_twenty_records_between_10_and_100_ms() -> None:
    assert shortest_wait_s(100.0) == LOW_RATE_WAIT_S
    assert shortest_wait_s(200.0) == LOW_RATE_WAIT_S
    assert shortest_wait_s(300.0) == pytest.approx(20 / 300)
    assert shortest_wait_s(400.0) == pytest.approx(0.05)
    assert shortest_wait_s(1000.0) == pytest.approx(0.02)
    assert shortest_wait_s(2000.0) == MIN_WAIT_S
    assert shortest_wait_s(50_000.0) == MIN_WAIT_S
