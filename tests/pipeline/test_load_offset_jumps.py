"""The batcher notices when a partition's position is not where it should be, and tells a
reset from transaction markers and aborted records (:mod:`pipeline.load.gaps`)."""

from __future__ import annotations

from typing import cast

from clickhouse_connect.driver.client import Client
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from prometheus_client import CollectorRegistry

from pipeline.codec import RecordType
from pipeline.load.batch import Batcher, OffsetJump
from pipeline.load.events import PipelineEvents
from pipeline.load.gaps import GapClassifier
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings
from tickwatch.telemetry.catalog import LoadMetrics

KEY = ("t.trades", 0)


def take(batcher: Batcher, *offsets: int) -> list[OffsetJump]:
    for offset in offsets:
        if batcher.open_batch(KEY, offset) is not None:
            batcher.added(KEY)
    return batcher.take_jumps()


def test_first_message_must_be_at_the_committed_offset_and_then_contiguous() -> None:
    batcher = Batcher(1000, 500, ManualClock())
    batcher.assign(KEY, RecordType.TRADE, None, committed=100)
    assert take(batcher, 100, 101, 102) == []
    assert take(batcher, 110) == [OffsetJump("t.trades", 0, 103, 110)]
    assert take(batcher, 111) == []


def test_a_reset_at_assignment_is_a_jump_either_way() -> None:
    for first, expected in ((150, 100), (0, 100)):
        batcher = Batcher(1000, 500, ManualClock())
        batcher.assign(KEY, RecordType.TRADE, None, committed=expected)
        assert take(batcher, first) == [OffsetJump("t.trades", 0, expected, first)]


def test_no_committed_offset_is_no_jump_and_a_reset_forgets_the_recovery_end() -> None:
    batcher = Batcher(1000, 500, ManualClock())
    batcher.assign(KEY, RecordType.TRADE, None)
    assert take(batcher, 42, 43) == []
    batcher.assign(KEY, RecordType.TRADE, 120, committed=100)
    assert take(batcher, 150) == [OffsetJump("t.trades", 0, 100, 150)]
    assert batcher.partitions[KEY].recovery_end is None


def test_redelivered_offsets_are_skipped_not_jumps() -> None:
    batcher = Batcher(1000, 500, ManualClock())
    batcher.assign(KEY, RecordType.TRADE, None, committed=0)
    assert take(batcher, 0, 1, 2, 1, 2, 3) == []
    assert batcher.partitions[KEY].next_offset == 4


# --- transaction gaps: the offsets in between are still in the log (pipeline.load.gaps) -------


class Watermarks:
    """An in-memory stand-in for the consumer's watermark query."""

    def __init__(self, low: int, high: int, fail: bool = False) -> None:
        self.marks = (low, high)
        self.fail = fail
        self.calls = 0

    def __call__(self, tp: TopicPartition, timeout_s: float) -> tuple[int, int]:
        self.calls += 1
        if self.fail:
            raise KafkaException(KafkaError(KafkaError._TIMED_OUT))
        return self.marks


def with_rule(marks: Watermarks) -> tuple[Batcher, GapClassifier]:
    gaps = GapClassifier(marks, 1.0)
    return Batcher(1000, 500, ManualClock(), gap_rule=gaps.is_reset), gaps


def test_a_gap_inside_the_log_is_a_transaction_gap_not_a_reset() -> None:
    marks = Watermarks(0, 1000)
    batcher, gaps = with_rule(marks)
    batcher.assign(KEY, RecordType.TRADE, None, committed=100)
    assert take(batcher, 100, 101) == []
    assert marks.calls == 0  # contiguous offsets ask nothing
    assert take(batcher, 103, 110) == [
        OffsetJump("t.trades", 0, 102, 103, reset=False),
        OffsetJump("t.trades", 0, 104, 110, reset=False),
    ]
    assert marks.calls == 1  # once per partition per poll
    gaps.new_poll()
    take(batcher, 112)
    assert marks.calls == 2


def test_a_gap_from_below_the_low_watermark_is_a_reset() -> None:
    batcher, _ = with_rule(Watermarks(150, 600))
    batcher.assign(KEY, RecordType.TRADE, None, committed=0)
    assert take(batcher, 0, 1) == []
    assert take(batcher, 150) == [OffsetJump("t.trades", 0, 2, 150)]


def test_at_assignment_a_committed_offset_on_a_marker_keeps_the_recovery_end() -> None:
    batcher, _ = with_rule(Watermarks(0, 1000))
    batcher.assign(KEY, RecordType.TRADE, 120, committed=100)
    assert take(batcher, 101) == [OffsetJump("t.trades", 0, 100, 101, reset=False)]
    assert batcher.partitions[KEY].recovery_end == 120


def test_at_assignment_deleted_or_beyond_the_log_or_backwards_is_a_reset() -> None:
    cases = (
        (Watermarks(150, 600), 100, 150),  # deleted: auto.offset.reset=earliest
        (Watermarks(0, 50), 100, 0),  # a log shorter than the committed offset
        (Watermarks(0, 1000), 100, 40),  # backwards
    )
    for marks, committed, first in cases:
        batcher, _ = with_rule(marks)
        batcher.assign(KEY, RecordType.TRADE, 120, committed=committed)
        assert take(batcher, first) == [OffsetJump("t.trades", 0, committed, first)]
        assert batcher.partitions[KEY].recovery_end is None


def test_no_watermarks_falls_back_to_a_reset_and_stops_asking_in_that_poll() -> None:
    marks = Watermarks(0, 1000, fail=True)
    batcher, _ = with_rule(marks)
    batcher.assign(KEY, RecordType.TRADE, None, committed=100)
    batcher.assign(("t.trades", 1), RecordType.TRADE, None, committed=100)
    assert take(batcher, 102) == [OffsetJump("t.trades", 0, 100, 102)]
    batcher.open_batch(("t.trades", 1), 105)
    assert batcher.take_jumps() == [OffsetJump("t.trades", 1, 100, 105)]
    assert marks.calls == 1


class InsertLog:
    """An in-memory stand-in for the ClickHouse client: records the inserts."""

    def __init__(self) -> None:
        self.rows: list[list[object]] = []

    def insert(self, table: str, columns: list[list[object]], **_: object) -> None:
        self.rows.extend(list(r) for r in zip(*columns, strict=True))


def test_a_transaction_gap_is_counted_but_writes_no_event() -> None:
    registry, log = CollectorRegistry(), InsertLog()
    events = PipelineEvents(
        cast(Client, log), ClickHouseSettings(), metrics=LoadMetrics(registry),
        clock=ManualClock(), policy="earliest",
    )  # fmt: skip
    events.gap(OffsetJump("t.trades", 0, 102, 103, reset=False))
    events.flush()
    assert log.rows == []
    gaps = {"topic": "t.trades", "reason": "transaction"}
    assert registry.get_sample_value("tickwatch_load_offset_gaps_total", gaps) == 1
    events.jumped(OffsetJump("t.trades", 0, 2, 150))
    events.flush()
    assert [r[2:7] for r in log.rows] == [["offset_reset", "t.trades", 0, 2, 150]]
    resets = {"topic": "t.trades"}
    assert registry.get_sample_value("tickwatch_load_offset_resets_total", resets) == 1
