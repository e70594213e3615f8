"""The bounded channels and the exporter loop, driven by a fake clock and an in-memory writer."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from tickwatch.clock import ManualClock
from tickwatch.settings import TelemetrySettings
from tickwatch.telemetry.catalog import TelemetryMetrics
from tickwatch.telemetry.export import Channel, Exporter, ExporterConfig, Row, TableSpec
from tickwatch.telemetry.writer import MemoryRowWriter

TABLE = TableSpec("t", (("x", "Int64"),))


def row_of(item: int) -> Row:
    if item < 0:
        raise ValueError("negative")
    return (item,)


def dropped(registry: CollectorRegistry, signal: str = "traces") -> float | None:
    return registry.get_sample_value("tickwatch_telemetry_dropped_total", {"signal": signal})


def exported(registry: CollectorRegistry, signal: str = "traces") -> float | None:
    return registry.get_sample_value("tickwatch_telemetry_exported_total", {"signal": signal})


def make(
    capacity: int = 10, batch_max: int = 4
) -> tuple[CollectorRegistry, MemoryRowWriter, Exporter, Channel[int]]:
    registry = CollectorRegistry()
    writer = MemoryRowWriter()
    config = ExporterConfig(
        batch_max=batch_max, flush_interval_s=1.0, retry_initial_s=2.0, retry_max_s=8.0
    )
    exporter = Exporter(writer, TelemetryMetrics(registry), config, clock=ManualClock())
    return registry, writer, exporter, exporter.channel("traces", TABLE, row_of, capacity)


def test_offer_never_blocks_and_counts_drops_when_full() -> None:
    registry, _, _, chan = make(capacity=3)
    assert [chan.offer(i) for i in range(5)] == [True, True, True, False, False]
    assert len(chan) == 3
    assert dropped(registry) == 2


def test_requeue_keeps_order_and_drops_the_oldest_that_no_longer_fit() -> None:
    registry, _, _, chan = make(capacity=4)
    for i in range(4):
        chan.offer(i)
    taken = chan.take(3)
    chan.offer(10)
    chan.offer(11)
    chan.requeue(taken)  # room for 1 of 3: items 0 and 1 (the oldest) are dropped
    assert chan.take(10) == [2, 3, 10, 11]
    assert dropped(registry) == 2


def test_rows_are_written_in_batches_when_a_flush_is_due() -> None:
    registry, writer, exporter, chan = make(capacity=100, batch_max=4)
    for i in range(10):
        chan.offer(i)
    exporter.run_once(now=0.0)
    assert writer.rows("t") == [(i,) for i in range(10)]
    assert writer.inserts == 3
    assert exported(registry) == 10
    chan.offer(99)
    exporter.run_once(now=0.5)  # flush not due yet and channel not full
    assert len(chan) == 1
    exporter.run_once(now=1.0)
    assert len(chan) == 0


def test_a_full_batch_is_written_before_the_interval() -> None:
    _, writer, exporter, chan = make(capacity=100, batch_max=4)
    exporter.run_once(now=0.0)
    for i in range(4):
        chan.offer(i)
    exporter.run_once(now=0.1)
    assert len(writer.rows("t")) == 4


def test_clickhouse_down_keeps_a_bounded_backlog_and_retries_with_backoff() -> None:
    registry, writer, exporter, chan = make(capacity=6, batch_max=4)
    writer.fail = True
    for i in range(5):
        chan.offer(i)
    exporter.run_once(now=0.0)  # fails: backoff 2 s
    assert len(chan) == 5
    for i in range(5, 9):
        chan.offer(i)  # room for 1 more, 3 dropped
    assert dropped(registry) == 3
    exporter.run_once(now=1.5)
    assert writer.inserts == 0
    exporter.run_once(now=2.0)  # fails again: backoff 4 s
    writer.fail = False
    exporter.run_once(now=5.0)
    assert writer.inserts == 0
    exporter.run_once(now=6.0)
    assert writer.rows("t") == [(i,) for i in range(6)]
    assert exported(registry) == 6


def test_an_item_that_cannot_become_a_row_is_dropped_and_counted() -> None:
    registry, writer, exporter, chan = make()
    chan.offer(1)
    chan.offer(-1)
    chan.offer(2)
    exporter.run_once(now=0.0)
    assert writer.rows("t") == [(1,), (2,)]
    assert dropped(registry) == 1


def test_jobs_run_on_their_interval() -> None:
    _, _, exporter, chan = make(capacity=100)
    runs: list[int] = []
    exporter.every(10.0, lambda: runs.append(len(runs)))
    for now in (0.0, 5.0, 9.9, 10.0, 15.0, 20.0):
        exporter.run_once(now=now)
    assert runs == [0, 1, 2]
    assert len(chan) == 0


def test_a_failing_job_does_not_stop_the_exporter() -> None:
    _, writer, exporter, chan = make()

    def boom() -> None:
        raise RuntimeError("job failed")

    exporter.every(1.0, boom)
    chan.offer(1)
    exporter.run_once(now=0.0)
    assert writer.rows("t") == [(1,)]


def test_close_flushes_from_the_thread_and_closes_the_writer() -> None:
    registry, writer, exporter, chan = make(capacity=100)
    exporter.start()
    for i in range(7):
        chan.offer(i)
    exporter.close(timeout=10)
    assert sorted(r[0] for r in writer.rows("t")) == list(range(7))
    assert writer.closed
    assert dropped(registry) == 0


def test_close_with_clickhouse_down_counts_leftovers_as_dropped() -> None:
    registry, writer, exporter, chan = make(capacity=100)
    writer.fail = True
    exporter.start()
    for i in range(7):
        chan.offer(i)
    exporter.close(timeout=10)
    assert writer.rows("t") == []
    assert dropped(registry) == 7
    assert exported(registry) == 0


def test_a_bad_item_is_counted_once_even_when_the_insert_fails() -> None:
    registry, writer, exporter, chan = make()
    writer.fail = True
    chan.offer(-1)
    chan.offer(1)
    exporter.run_once(now=0.0)
    exporter.flush()
    assert dropped(registry) == 1
    assert len(chan) == 1


def test_a_failed_insert_ends_the_round_for_every_channel() -> None:
    _, writer, exporter, first = make()
    second = exporter.channel("logs", TableSpec("u", (("x", "Int64"),)), row_of, 10)
    writer.fail = True
    first.offer(1)
    second.offer(2)
    exporter.run_once(now=0.0)
    assert (len(first), len(second)) == (1, 1)
    assert writer.attempts == 1


class _BusyWriter(MemoryRowWriter):
    """Every insert lets a producer queue one more item meanwhile, as a busy worker does."""

    def __init__(self) -> None:
        super().__init__()
        self.chan: Channel[int] | None = None

    def insert(self, table: TableSpec, rows: Sequence[Row]) -> None:
        super().insert(table, rows)
        if self.chan is not None:
            self.chan.offer(100 + self.inserts)


def test_items_queued_during_an_insert_wait_for_the_next_round() -> None:
    writer = _BusyWriter()
    config = ExporterConfig(batch_max=4, flush_interval_s=5.0)
    exporter = Exporter(writer, TelemetryMetrics(CollectorRegistry()), config, clock=ManualClock())
    chan = exporter.channel("traces", TABLE, row_of, 100)
    writer.chan = chan
    for i in range(3):
        chan.offer(i)
    exporter.run_once(now=0.0)
    assert writer.inserts == 1  # not chased with one tiny INSERT per item that arrived meanwhile
    assert len(chan) == 1
    exporter.run_once(now=4.9)
    assert writer.inserts == 1
    exporter.run_once(now=5.0)
    assert writer.inserts == 2
    assert writer.rows("t") == [(0,), (1,), (2,), (101,)]


def test_the_default_flush_interval_is_the_settings_default() -> None:
    assert ExporterConfig().flush_interval_s == TelemetrySettings().flush_interval_s
