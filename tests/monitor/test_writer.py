"""Buffered health-check writes: batched, kept while ClickHouse is down, bounded."""

from __future__ import annotations

from tickwatch.buffer import BufferedWriter

from .monitor_fakes import FakeClickHouse


def test_rows_wait_while_clickhouse_is_down_and_go_out_once_it_is_back() -> None:
    ch = FakeClickHouse()
    writer = BufferedWriter(ch, "ops.health_checks", ["a"], max_rows=100, batch_rows=3)
    ch.down = True
    for i in range(5):
        writer.add([i])
    assert writer.flush() == 0 and writer.pending == 5
    ch.down = False
    assert writer.flush() == 5
    assert ch.inserted["ops.health_checks"] == [[0], [1], [2], [3], [4]]
    assert writer.pending == 0 and writer.flush() == 0


def test_the_buffer_is_bounded_and_drops_the_oldest_rows() -> None:
    ch = FakeClickHouse()
    ch.down = True
    writer = BufferedWriter(ch, "t", ["a"], max_rows=3)
    for i in range(5):
        writer.add([i])
    assert writer.pending == 3 and writer.dropped == 2
    ch.down = False
    writer.flush()
    assert ch.inserted["t"] == [[2], [3], [4]]


def test_rows_added_during_a_flush_wait_for_the_next_one() -> None:
    class BusyClickHouse(FakeClickHouse):
        """A check result arrives from another scheduler thread during every insert."""

        writer: BufferedWriter | None = None

        def insert(self, table: str, rows: list[list[object]], columns: list[str]) -> None:
            super().insert(table, rows, columns)
            if self.writer is not None:
                self.writer.add([100])

    ch = BusyClickHouse()
    writer = BufferedWriter(ch, "t", ["a"], batch_rows=2)
    ch.writer = writer
    for i in range(3):
        writer.add([i])
    assert writer.flush() == 3  # two INSERTs (batch_rows=2), not one more per arriving row
    assert ch.inserted["t"] == [[0], [1], [2]]
    assert writer.pending == 2
