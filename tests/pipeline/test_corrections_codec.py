"""The correction record on the wire and its validation rules (issue 13 §4)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from pipeline.codec import RecordType, Trade, TradeCorrection, ValidationRules, decode, validate
from pipeline.codec.spec import index
from pipeline.codec.wire import to_wire
from pipeline.errors import InvalidMessage
from pipeline.producer import TickProducer
from pipeline.sources.replay_rows import to_record
from tickwatch.settings import LoadSettings
from tickwatch.telemetry.catalog import IngestMetrics

from .ingest_helpers import FakeKafka

NOW_US = 1763700000000000
RULES = ValidationRules.from_settings(LoadSettings())
FIX = TradeCorrection("IWM", NOW_US, "correct", "79372207866957", 208.65, 14950.0,
                      conditions=(" ", "7", "V"), corrected_id="79372223926359",
                      corrected_price=208.65, corrected_size=14950.0,
                      corrected_conditions=(" ", "7", "Z", "V"), corrected_updates_open_close=0,
                      corrected_updates_high_low=0, tape="B", source="alpaca")  # fmt: skip
C = RecordType.CORRECTION


def check(body: dict[str, Any], kind: RecordType = C) -> list[Any]:
    return validate(decode(orjson.dumps(body)), kind, RULES, NOW_US)


def test_a_correction_round_trips_through_the_wire_into_its_row() -> None:
    row = check(to_wire(FIX))
    assert row[index(C, "corrected_conditions")] == [" ", "7", "Z", "V"]
    assert row[index(C, "action")] == "correct" and row[index(C, "tape")] == "B"
    assert row[index(C, "corrected_updates_open_close")] == 0
    cancel = TradeCorrection("AAPL", NOW_US, "cancel", "52983525028174", 125.5, 100.0)
    assert check(to_wire(cancel))[index(C, "corrected_price")] == 0.0  # no reprint


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"action": "undo"}, "bad_action"),
        ({"corrected_price": 0.0}, "bad_price"),  # a reprint needs its price
        ({"corrected_size": -1.0}, "negative_size"),
        ({"corrected_updates_volume": 2}, "bad_flag"),
        ({"corrected_price": 1e9}, "implausible_price"),
    ],
)
def test_bad_corrections_are_rejected_with_a_reason(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        check(to_wire(FIX) | fields)
    assert caught.value.reason == reason


def test_trade_flags_default_to_eligible_and_must_be_0_or_1() -> None:
    body = to_wire(Trade("AAPL", NOW_US, 1.0, 1.0))
    for name in ("updates_open_close", "updates_high_low", "updates_volume"):
        assert check(body, RecordType.TRADE)[index(RecordType.TRADE, name)] == 1
        older = {k: v for k, v in body.items() if k != name}  # written before the field existed
        assert check(older, RecordType.TRADE)[index(RecordType.TRADE, name)] == 1
        with pytest.raises(InvalidMessage) as caught:
            check(body | {name: 5}, RecordType.TRADE)
        assert caught.value.reason == "bad_flag"


def test_a_replay_file_may_carry_corrections() -> None:
    row = {"type": "correction", "symbol": "AAPL", "ts": "1763700000000000", "action": "correct",
           "trade_id": "5", "price": "1.5", "size": "100", "corrected_id": "6",
           "corrected_price": "1.6", "corrected_size": "100", "corrected_conditions": "@ I",
           "corrected_updates_high_low": "0"}  # fmt: skip
    fix = to_record(row, None, "f.csv line 2")
    assert isinstance(fix, TradeCorrection)
    assert fix.corrected_conditions == ("@", "I") and fix.corrected_updates_high_low == 0
    check(to_wire(fix))


def test_the_ingest_producer_sends_corrections_to_their_topic_keyed_by_symbol() -> None:
    topics = {
        RecordType.TRADE: "t",
        RecordType.QUOTE: "q",
        RecordType.BAR: "b",
        RecordType.CORRECTION: "c",
    }
    registry = CollectorRegistry()
    producer = TickProducer(FakeKafka, {}, topics, IngestMetrics(registry), "alpaca")
    assert producer.send([FIX, Trade("AAPL", NOW_US, 1.0, 1.0)], NOW_US + 5) == 2
    kafka = producer._producer
    assert isinstance(kafka, FakeKafka)
    kafka.poll(0)
    (topic, value, key), (trade_topic, _, _) = kafka.messages
    assert (topic, key, trade_topic) == ("c", b"IWM", "t")
    assert check(orjson.loads(value))[index(C, "recv_ts")] == NOW_US + 5
    sample = {"source": "alpaca", "type": "correction"}
    assert registry.get_sample_value("tickwatch_ingest_records_total", sample) == 1
