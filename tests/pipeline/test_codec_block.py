"""Column blocks and batches: the same records, and byte for byte the JSON v1 of one at a time."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator, Sequence

import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from pipeline.codec import (
    AssetClass,
    Payload,
    RawMessage,
    RecordType,
    Trade,
    TradeCorrection,
    decode,
    encode,
    typed_row,
)
from pipeline.codec.batch import PayloadBatch, encode_payloads, symbol_counts
from pipeline.codec.block import Categorical, Digits, RecordBlock
from pipeline.codec.block_wire import encode_block
from pipeline.ingest import IngestWorker
from pipeline.producer import TickProducer, producer_config
from pipeline.sources.simulator import Simulator
from tickwatch.clock import ManualClock
from tickwatch.settings import IngestSettings, Settings
from tickwatch.telemetry.catalog import IngestMetrics

from .ingest_helpers import FakeKafka

START = 1_763_740_000.0
RECV = 1_763_740_000_123_456
ANOMALIES = "spike:0.01,duplicate:0.01,malformed:0.01"


def one_at_a_time(items: Sequence[Payload], recv_ts: int) -> list[tuple[RecordType, bytes, bytes]]:
    out = []
    for item in items:
        e = item if isinstance(item, RawMessage) else encode(item, recv_ts)
        out.append((e.kind, e.key, e.value))
    return out


def tape_batches(count: int, **settings: object) -> list[PayloadBatch]:
    sim = Simulator(IngestSettings.model_validate(settings))
    tape = sim.tape(START)
    until = int(START * 1e6)
    out = []
    for _ in range(count):
        until += 1_500_000
        batch, _ = tape.take(until, 7_000)
        out.append(batch)
    return out


def test_simulator_batches_encode_exactly_like_their_records() -> None:
    batches = tape_batches(25, seed=7, symbols=40, rate=5_000, anomalies=ANOMALIES)
    seen: Counter[type] = Counter()
    for batch in batches:
        rows = encode_payloads(batch, RECV)
        assert list(zip(rows.kinds, rows.keys, rows.values, strict=True)) == one_at_a_time(
            list(batch), RECV
        )
        seen.update(type(i) for i in batch)
    assert {t.__name__ for t in seen} == {"Trade", "Quote", "Bar", "RawMessage"}


def test_simulator_trades_name_their_source() -> None:
    (batch,) = tape_batches(1, seed=3, rate=2_000)
    trades = [i for i in batch if isinstance(i, Trade)]
    assert trades and {(t.source, t.instrument) for t in trades} == {("simulator", "")}


FLOATS = [0.0, -0.0, 1.0, 100.0, 0.1 + 0.2, 1e16, 1.5e-7, 5e-324, 123456789.123, 1e300, -2.5e-5]


def corrections(n: int) -> RecordBlock:
    rng = np.random.default_rng(5)
    return RecordBlock(
        TradeCorrection,
        n,
        {
            "symbol": Categorical(rng.integers(0, 3, n), ("AAPL", 'Q"U\\OTE', "ÉTÉ/€")),
            "ts": rng.integers(0, 2**62, n),
            "action": Categorical(rng.integers(0, 3, n), ("correct", "cancel", "error")),
            "trade_id": Digits(rng.integers(0, 2**62, n)),
            "price": np.array((FLOATS * n)[:n]),
            "size": rng.random(n) * 10.0 ** rng.integers(-8, 12, n),
            "asset_class": Categorical(rng.integers(0, 5, n), tuple(AssetClass)),
            "conditions": Categorical(rng.integers(0, 3, n), ((), ("@",), ("T", "I", "\n"))),
            "corrected_updates_volume": rng.integers(0, 2, n),
            "tape": "C",
            "recv_ts": np.where(rng.random(n) < 0.5, 0, rng.integers(1, 2**40, n)),
        },
    )


@pytest.mark.parametrize("recv_ts", [0, RECV])
def test_any_block_encodes_like_its_records(recv_ts: int) -> None:
    block = corrections(500)
    records = block.records()
    assert [type(r) for r in records] == [TradeCorrection] * 500
    assert encode_block(block, recv_ts) == [encode(r, recv_ts).value for r in records]
    assert block.keys() == [r.symbol.encode() for r in records]
    third = records[3]
    assert isinstance(third, TradeCorrection)
    assert third.trade_id == str(block.columns["trade_id"].numbers[3])
    assert all(math.isfinite(orjson.loads(v)["price"]) for v in encode_block(block))


def test_numbers_are_written_as_for_python_floats() -> None:
    rng = np.random.default_rng(11)
    values = np.concatenate(
        [np.array(FLOATS), rng.standard_normal(2000) * 10.0 ** rng.integers(-9, 17, 2000)]
    )
    block = RecordBlock(
        Trade,
        len(values),
        {"symbol": "X", "ts": np.arange(len(values)), "price": values, "size": values},
    )
    for value, record in zip(encode_block(block), block.records(), strict=True):
        assert value == encode(record).value
        assert typed_row(decode(value), RecordType.TRADE) is not None  # the load's fast path


def test_a_block_says_which_column_is_wrong() -> None:
    n = 3
    ok = {"symbol": "X", "ts": np.arange(n), "price": np.ones(n), "size": np.ones(n)}
    with pytest.raises(ValueError, match="Trade has no field 'colour'"):
        RecordBlock(Trade, n, ok | {"colour": "red"})
    with pytest.raises(ValueError, match=r"Trade\.price is required"):
        RecordBlock(Trade, n, {k: v for k, v in ok.items() if k != "price"})
    with pytest.raises(ValueError, match=r"Trade\.ts: expected 3 values"):
        RecordBlock(Trade, n, ok | {"ts": np.arange(4)})
    with pytest.raises(ValueError, match=r"Trade\.size: dtype float32"):
        RecordBlock(Trade, n, ok | {"size": np.ones(n, dtype=np.float32)})
    with pytest.raises(ValueError, match=r"Trade\.symbol must be a plain value or Categorical"):
        RecordBlock(Trade, n, ok | {"symbol": np.arange(n)})
    with pytest.raises(ValueError, match=r"Trade\.exchange: a category code is out of range"):
        RecordBlock(Trade, n, ok | {"exchange": Categorical(np.array([0, 1, 2]), ("A", "B"))})


def test_a_batch_keeps_order_repeats_and_plain_parts() -> None:
    block = corrections(4)
    raw = RawMessage(RecordType.TRADE, b"ZZ", b"not json")
    batch = PayloadBatch(
        [block, (raw,)], np.array([0, 1, 0, 0, 0, 0]), np.array([3, 0, 1, 1, 0, 2])
    )
    records = block.records()
    expected = [records[3], raw, records[1], records[1], records[0], records[2]]
    assert list(batch) == expected and len(batch) == 6 and batch[1] is raw
    assert list(batch[2:4]) == [records[1]] * 2
    assert encode_payloads(batch, RECV) == encode_payloads(expected, RECV)
    assert (
        symbol_counts(batch)
        == symbol_counts(expected)
        == dict(Counter(r.symbol for r in expected if not isinstance(r, RawMessage)))
    )
    both = PayloadBatch.concat([batch, PayloadBatch.of([raw])])
    assert list(both) == [*expected, raw]
    with pytest.raises(ValueError, match="past the end of its part"):
        PayloadBatch([block], np.array([0]), np.array([4]))


class FirstBatches:
    """The simulator's first ``count`` batches, handed over as they are (PayloadBatch)."""

    name = "simulator"

    def __init__(self, count: int) -> None:
        self._sim = Simulator(
            IngestSettings(seed=4, symbols=30, rate=50_000, anomalies=ANOMALIES), ManualClock(START)
        )
        self._count = count
        self.sent: list[Sequence[Payload]] = []

    async def batches(self) -> AsyncIterator[Sequence[Payload]]:
        async for batch in self._sim.batches():
            assert isinstance(batch, PayloadBatch)
            self.sent.append(batch)
            yield batch
            if len(self.sent) == self._count:
                return

    async def aclose(self) -> None:
        await self._sim.aclose()


def test_the_worker_produces_a_batch_as_it_would_its_records() -> None:
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    topics = {RecordType.TRADE: "t", RecordType.QUOTE: "q", RecordType.BAR: "b"}
    producer = TickProducer(FakeKafka, {}, topics, metrics, "simulator")
    source = FirstBatches(15)  # 10 ms reads at 50k/s: ~500 records each
    worker = IngestWorker(source, producer, metrics, flush_timeout_s=1.0, clock=ManualClock(START))
    result = asyncio.run(worker.run())
    items = [i for batch in source.sent for i in batch]
    assert result.clean and result.delivered == len(items) > 5_000
    kafka = worker._producer._producer
    assert isinstance(kafka, FakeKafka)
    expected = one_at_a_time(items, int(START * 1e6))
    assert kafka.messages == [(topics[k], value, key) for k, key, value in expected]
    for kind, n in Counter(k for k, _, _ in expected).items():
        labels = {"source": "simulator", "type": kind.value}
        assert registry.get_sample_value("tickwatch_ingest_records_total", labels) == n
    per_symbol = symbol_counts(items)
    for symbol, n in per_symbol.items():
        labels = {"symbol": symbol}
        assert registry.get_sample_value("tickwatch_ingest_symbol_records_total", labels) == n


def test_the_producer_queue_is_bounded_by_the_setting() -> None:
    settings = Settings(_env_file=None, ingest=IngestSettings(queue_max_messages=12_345))
    config = producer_config(settings, "127.0.0.1:1")
    assert config["queue.buffering.max.messages"] == 12_345
    assert (
        producer_config(settings, "127.0.0.1:1", **{"queue.buffering.max.messages": 7})[
            "queue.buffering.max.messages"
        ]
        == 7
    )  # a test's small queue still wins
