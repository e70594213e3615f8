"""The batcher notices when a partition's position is not where it should be."""

from __future__ import annotations

from pipeline.codec import RecordType
from pipeline.load.batch import Batcher, OffsetJump
from tickwatch.clock import ManualClock

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
