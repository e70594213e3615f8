"""Small polls go to the per-message path (issue 18) and give the same rows and dead letters as
the columnar path: the batch's Arrow table, Kafka times, offsets and dead-letter reasons."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from prometheus_client import CollectorRegistry

from pipeline.codec import RecordType, ValidationRules
from pipeline.codec.columnar import decode_poll
from pipeline.load import decode
from pipeline.load.batch import Batcher
from pipeline.load.decode import COLUMNAR_MIN_MESSAGES, MessageDecoder
from tests.pipeline.test_load_worker import NOW_US, FakeMessage, trade_value
from tickwatch.clock import ManualClock
from tickwatch.settings import LoadSettings
from tickwatch.telemetry.catalog import LoadMetrics

TOPIC = "t"
PARTITIONS = 3


def _poll(count: int) -> list[FakeMessage]:
    values = [trade_value(i) for i in range(count)]
    values[1] = trade_value(1, price=-5.0)  # refused: a dead letter with its reason
    values[2] = trade_value(2, recv_ts=0)  # recv_ts becomes the Kafka time
    values[3] = b"{not json"
    return [FakeMessage(TOPIC, i % PARTITIONS, i // PARTITIONS, v) for i, v in enumerate(values)]


def _decoded(messages: list[FakeMessage], columnar_min: int) -> tuple[list[Any], list[Any]]:
    clock = ManualClock(NOW_US / 1e6)
    decoder = MessageDecoder(
        {TOPIC: RecordType.TRADE}, ValidationRules.from_settings(LoadSettings()), clock,
        LoadMetrics(CollectorRegistry()), columnar_min=columnar_min,
    )  # fmt: skip
    batcher = Batcher(10_000, 60_000, clock)
    for p in range(PARTITIONS):
        batcher.assign((TOPIC, p), RecordType.TRADE, None, 0)
    assert decoder.add(messages, batcher) == len(messages)  # type: ignore[arg-type]
    tables, letters = [], []
    for p in range(PARTITIONS):
        batch = batcher.partitions[(TOPIC, p)].open
        assert batch is not None
        tables.append(batch.rows.arrow(p, 0))
        letters.append([(d.offset, d.reason) for d in batch.dead_letters])
    return tables, letters


def _count_columnar_decodes(monkeypatch: Any) -> list[int]:
    """The sizes of the columnar decodes the decoder makes from now on."""
    calls: list[int] = []

    def counting(values: list[bytes | None], *args: Any) -> Any:
        calls.append(len(values))
        return decode_poll(values, *args)

    monkeypatch.setattr(decode, "decode_poll", counting)
    return calls


def test_small_poll_is_decoded_one_by_one_with_the_columnar_paths_result(
    monkeypatch: Any,
) -> None:
    messages = _poll(12)
    columnar_tables, columnar_letters = _decoded(messages, columnar_min=1)
    calls = _count_columnar_decodes(monkeypatch)
    single_tables, single_letters = _decoded(messages, columnar_min=COLUMNAR_MIN_MESSAGES)
    assert calls == []  # 12 < COLUMNAR_MIN_MESSAGES: no columnar decode at all
    assert single_letters == columnar_letters
    assert any(single_letters)
    for one_by_one, as_columns in zip(single_tables, columnar_tables, strict=True):
        assert one_by_one.equals(as_columns)
        assert one_by_one.num_rows > 0


def test_poll_of_the_threshold_size_is_decoded_as_columns(monkeypatch: Any) -> None:
    calls = _count_columnar_decodes(monkeypatch)
    tables, _ = _decoded(_poll(COLUMNAR_MIN_MESSAGES), columnar_min=COLUMNAR_MIN_MESSAGES)
    assert calls == [COLUMNAR_MIN_MESSAGES]
    assert sum(t.num_rows for t in tables) == COLUMNAR_MIN_MESSAGES - 2  # two refused
    assert all(isinstance(t, pa.Table) for t in tables)


def _counting_decoder() -> tuple[MessageDecoder, Batcher, CollectorRegistry]:
    clock = ManualClock(NOW_US / 1e6)
    registry = CollectorRegistry()
    decoder = MessageDecoder(
        {TOPIC: RecordType.TRADE}, ValidationRules.from_settings(LoadSettings()), clock,
        LoadMetrics(registry), columnar_min=2,
    )  # fmt: skip
    batcher = Batcher(10_000, 60_000, clock)
    for p in range(PARTITIONS - 1):  # the last partition is not assigned here
        batcher.assign((TOPIC, p), RecordType.TRADE, None, 0)
    return decoder, batcher, registry


def test_only_messages_taken_into_a_batch_are_counted() -> None:
    decoder, batcher, registry = _counting_decoder()
    first = _poll(30)
    assert decoder.add(first, batcher) == 20  # type: ignore[arg-type]
    again = first[:9] + _poll(33)[30:]  # 9 re-delivered (6 in assigned partitions), 3 new
    assert decoder.add(again, batcher) == 2  # type: ignore[arg-type]
    consumed = registry.get_sample_value("tickwatch_load_records_consumed_total", {"topic": TOPIC})
    assert consumed == 22
    assert decoder.newest == {(TOPIC, 0): (10, NOW_US // 1000), (TOPIC, 1): (10, NOW_US // 1000)}


def test_side_reads_are_counted_apart_by_outcome() -> None:
    decoder, batcher, registry = _counting_decoder()
    assert decoder.add(_poll(30), batcher, side=True) == 20  # type: ignore[arg-type]

    def side(outcome: str) -> float | None:
        labels = {"topic": TOPIC, "outcome": outcome}
        return registry.get_sample_value("tickwatch_load_side_read_records_total", labels)

    assert (side("row"), side("dead_letter")) == (18, 2)  # offsets 1 and 3 of _poll's bad values
    consumed = registry.get_sample_value("tickwatch_load_records_consumed_total", {"topic": TOPIC})
    assert not consumed
