"""The faults of the matrix. Each is a function of a :class:`~bench.faults.run.Run`: it starts
the real workers, injects its fault at seeded moments, and leaves a load worker running (the
settle step waits for the pipeline to catch up). ``quick`` marks the small subset; ``breaks``
marks the faults that kill or stop Kafka or ClickHouse (they need the run's own services).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from bench.faults import poison
from bench.faults.emails import FIRING, RESOLVED, Expected
from bench.faults.run import Fault, FaultFn, Run, wait
from bench.worker import WorkerProcess

KILL, TERM = signal.SIGKILL, signal.SIGTERM
LOAD_KILLS = 10


FAULTS: list[Fault] = []


def fault(name: str, what: str, *, quick: bool = False, breaks: bool = False
          ) -> Callable[[FaultFn], FaultFn]:  # fmt: skip
    def register(fn: FaultFn) -> FaultFn:
        FAULTS.append(Fault(name, what, fn, quick, breaks))
        return fn

    return register


# ------------------------------------------------------------------ load worker


@fault("load-kill9-x10", f"kill -9 the load worker {LOAD_KILLS}x at seeded moments, one stream",
       quick=True)  # fmt: skip
def load_kill9_x10(run: Run) -> None:
    run.ingest(60)
    load = run.load()
    for _ in range(LOAD_KILLS):
        _working(run, load)
        run.sleep(0.2, 3.0)
        run.kill(load, KILL)
        load = run.load()


def _working(run: Run, load: WorkerProcess) -> None:
    """Wait until ``load`` has its partitions (a kill before that only tests start-up)."""
    if not wait(lambda: "assigned" in _log(load) or not load.running(), 60):
        run.notes.append(f"{load.log_path.name} never got partitions within 60 s")


@fault("load-sigterm", "SIGTERM the load worker mid-stream, restart it", quick=True)
def load_sigterm(run: Run) -> None:
    run.ingest(20)
    load = run.load()
    _working(run, load)
    run.sleep(2.0, 8.0)
    run.kill(load, TERM)
    run.sleep(0.0, 2.0)
    run.load()


@fault("rebalance-storm", "load workers join and leave (SIGTERM or kill -9), 1-4 at a time")
def rebalance_storm(run: Run) -> None:
    run.ingest(40)
    members = [run.load()]
    for _ in range(12):
        run.sleep(1.5, 4.0)
        if len(members) < 2 or (len(members) < 4 and run.rng.random() < 0.5):
            members.append(run.load())
        else:
            leaving = members.pop(run.rng.randrange(len(members)))
            run.kill(leaving, KILL if run.rng.random() < 0.3 else TERM)
    run.notes.append(f"{len(members)} members at the end")


# ------------------------------------------------------------------ ingest worker


@fault("ingest-kill9", "kill -9 the ingest worker mid-stream, start it again", quick=True)
def ingest_kill9(run: Run) -> None:
    ingest = run.ingest(0)
    run.load()
    run.sleep(5.0, 12.0)
    run.kill(ingest, KILL)
    run.ingest(10, seed_offset=1)


@fault("ingest-sigterm", "SIGTERM the ingest worker mid-stream (flushes), start it again")
def ingest_sigterm(run: Run) -> None:
    ingest = run.ingest(0)
    run.load()
    run.sleep(5.0, 12.0)
    run.kill(ingest, TERM)
    run.ingest(10, seed_offset=1)


# ------------------------------------------------------------------ bad input


@fault("poison", f"{len(poison.NAMES)} kinds of poison message mid-stream", quick=True)
def poison_kinds(run: Run) -> None:
    run.ingest(20)
    run.load()
    run.sleep(3.0, 8.0)
    bad = poison.kinds(int(time.time() * 1e6))
    run.rng.shuffle(bad)
    run.produce(bad)
    run.inject()


@fault("poison-load-kill9", "poison mid-stream, then kill -9 of the load worker twice",
       quick=True)  # fmt: skip
def poison_load_kill9(run: Run) -> None:
    run.ingest(20)
    load = run.load()
    run.sleep(3.0, 6.0)
    run.produce(poison.kinds(int(time.time() * 1e6)))
    for _ in range(2):
        run.sleep(0.2, 2.0)
        run.kill(load, KILL)
        load = run.load()


def _reject_mid_stream(run: Run, trades: int = 5) -> None:
    """A constraint the simulator's rows pass and ``trades`` valid-looking trades break:
    ClickHouse rejects their batch (VIOLATED_CONSTRAINT), not the validation."""
    client = run.lane.client()
    try:
        client.command("ALTER TABLE trades ADD CONSTRAINT fault_reject CHECK trade_id != 'reject'")
    finally:
        client.close()
    now = int(time.time() * 1e6)
    bad = [
        poison.Poison("rejected", poison.T, b"REJECT",
                      json.dumps(poison.trade(now + i, symbol="REJECT", trade_id="reject"))
                      .encode())
        for i in range(trades)
    ]  # fmt: skip
    for coordinate in run.produce(bad):
        run.bad[coordinate] = "clickhouse_"


@fault("insert-rejected", "ClickHouse permanently rejects rows mid-stream (constraint)",
       quick=True)  # fmt: skip
def insert_rejected(run: Run) -> None:
    run.ingest(20)
    run.load()
    run.sleep(4.0, 8.0)
    _reject_mid_stream(run)
    run.inject()


@fault("insert-rejected-kill9", "rejected rows mid-stream, kill -9 of the load worker while "
       "it bisects the rejected batch", quick=True)  # fmt: skip
def insert_rejected_kill9(run: Run) -> None:
    run.ingest(20)
    load = run.load()
    run.sleep(4.0, 8.0)
    _reject_mid_stream(run)
    run.inject()
    if not wait(lambda: "bisecting" in _log(load), 60):
        run.notes.append("the load worker never logged a bisection")
    run.sleep(0.0, 0.3)
    run.kill(load, KILL)
    run.load()


def _log(worker: WorkerProcess) -> str:
    try:
        return worker.log_path.read_text("utf-8", errors="replace")
    except OSError:
        return ""


# ------------------------------------------------------------------ ClickHouse


def _with_monitor(run: Run, check: str, **env: str) -> None:
    run.monitor(**env)
    run.expect(check, FIRING)
    run.expect(check, RESOLVED)


@fault("clickhouse-kill9", "kill -9 ClickHouse mid-stream, restart after 8 s (detector on)",
       breaks=True)  # fmt: skip
def clickhouse_kill9(run: Run) -> None:
    run.ingest(40)
    run.load()
    _with_monitor(run, "clickhouse_reachable")
    run.wait_rows(200)
    run.sleep(3.0, 8.0)
    run.inject()
    run.stack.kill_clickhouse()
    run.pause(8.0)
    run.stack.start_clickhouse()


@fault("clickhouse-hung-30s", "SIGSTOP ClickHouse 30 s, then SIGCONT (detector on)", breaks=True)
def clickhouse_hung(run: Run) -> None:
    run.ingest(50)
    run.load()
    _with_monitor(run, "clickhouse_reachable")
    run.wait_rows(200)
    run.sleep(3.0, 8.0)
    run.inject()
    run.stack.stop_clickhouse()
    try:
        run.pause(30.0)
    finally:
        run.stack.continue_clickhouse()


@fault("clickhouse-stutter", "SIGSTOP/SIGCONT ClickHouse 5x (1-3 s stopped)", breaks=True)
def clickhouse_stutter(run: Run) -> None:
    run.ingest(30)
    run.load()
    run.wait_rows(100)
    for _ in range(5):
        run.sleep(1.0, 3.0)
        run.inject()
        run.stack.stop_clickhouse()
        try:
            run.sleep(1.0, 3.0)
        finally:
            run.stack.continue_clickhouse()


@fault("clickhouse-restart", "clean ClickHouse restart mid-stream", breaks=True)
def clickhouse_restart(run: Run) -> None:
    run.ingest(25)
    run.load()
    run.wait_rows(100)
    run.sleep(2.0, 6.0)
    run.inject()
    run.stack.restart_clickhouse()


@fault("load-kill9-clickhouse-down", "kill -9 the load worker while ClickHouse is down",
       breaks=True)  # fmt: skip
def load_kill9_clickhouse_down(run: Run) -> None:
    run.ingest(30)
    load = run.load()
    run.wait_rows(100)
    run.sleep(2.0, 5.0)
    run.inject()
    run.stack.kill_clickhouse()
    run.sleep(2.0, 5.0)
    run.kill(load, KILL)
    run.load()
    run.sleep(2.0, 5.0)
    run.stack.start_clickhouse()


# ------------------------------------------------------------------ Kafka


@fault("kafka-kill9", "kill -9 the Kafka broker mid-stream, restart after 8 s (detector on)",
       breaks=True)  # fmt: skip
def kafka_kill9(run: Run) -> None:
    run.ingest(40)
    run.load()
    _with_monitor(run, "kafka_reachable")
    run.wait_rows(200)
    run.sleep(3.0, 8.0)
    run.inject()
    run.stack.kill_kafka()
    run.pause(8.0)
    run.stack.start_kafka()


@fault("kafka-restart", "controlled Kafka broker restart mid-stream", breaks=True)
def kafka_restart(run: Run) -> None:
    run.ingest(30)
    run.load()
    run.wait_rows(100)
    run.sleep(2.0, 6.0)
    run.inject()
    run.stack.restart_kafka()


@fault(
    "offset-out-of-range",
    "the group's committed offset falls outside the log "
    "(DeleteRecords past it while the load worker is stopped; detector on)",
    quick=True,
)
def offset_out_of_range(run: Run) -> None:  # fmt: skip
    run.ingest(25)
    load = run.load()
    _with_monitor(run, "offset_resets", TICKWATCH_MONITOR_OFFSET_RESET_WINDOW_S="20")
    run.wait_rows(200)
    run.kill(load, TERM)
    # the stopped group alerts by itself (Burrow's "stopped"): wait for it so it is expected,
    # not a race
    run.expect("consumer_lag", FIRING)
    run.expect("consumer_lag", RESOLVED)
    wait(lambda: run.watch.has(Expected("consumer_lag", FIRING)), 60)
    topic = run.lane.kafka.topic_trades
    conf: dict[str, str | int | float | bool] = {
        **run.lane.kafka.client_config(run.stack.bootstrap)
    }
    admin = AdminClient(conf)
    consumer_high = _high(run, topic, 0)
    run.inject()
    for future in admin.delete_records([TopicPartition(topic, 0, consumer_high)]).values():
        future.result(timeout=30)
    run.notes.append(f"deleted {topic}[0] up to offset {consumer_high}")
    run.load()


def _high(run: Run, topic: str, partition: int) -> int:
    from confluent_kafka import Consumer

    consumer = Consumer(run.lane.kafka.client_config(run.stack.bootstrap)
                        | {"group.id": f"{run.lane.kafka.consumer_group}.audit"})  # fmt: skip
    try:
        return int(consumer.get_watermark_offsets(TopicPartition(topic, partition), 10)[1])
    finally:
        consumer.close()


# ------------------------------------------------------------------ detector and SMTP

HEARTBEAT = {"TICKWATCH_MONITOR_HEARTBEAT_TIMEOUT_S": "15"}


def _stop_load_until_pending(run: Run, monitor: WorkerProcess, load: WorkerProcess) -> None:
    """Stop the load worker and wait until the detector holds both of its alerts (heartbeat,
    consumer lag) in its persisted group wait."""
    run.inject()
    run.kill(load, TERM)
    state = run.lane.dir / "state" / "alerts-state.json"
    both = {"heartbeat", "consumer_lag"}
    if not wait(lambda: both <= _pending(state) or not monitor.running(), 120):
        run.notes.append(f"alerts pending after 120 s: {sorted(_pending(state))}")


def _pending(state: Path) -> set[str]:
    """The checks of the alerts waiting in the detector's persisted group wait."""
    try:
        pending = json.loads(state.read_text("utf-8"))["notifier"]["pending"]
        return {str(e["key"]).split("/", 1)[0] for e in pending}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _expect_load_stopped(run: Run) -> None:
    """A stopped load worker: its heartbeat goes stale and its group stops with lag (Burrow's
    "stopped"); both open and both resolve once it is back."""
    for check in ("heartbeat", "consumer_lag"):
        run.expect(check, FIRING)
        run.expect(check, RESOLVED)


def _detector_fault(run: Run, sig: int) -> None:
    run.ingest(0)
    load = run.load()
    run.wait_rows(200)
    first = run.monitor(TICKWATCH_ALERTS_GROUP_WAIT_S="600", **HEARTBEAT)
    _expect_load_stopped(run)
    run.pause(8.0)  # heartbeats seen, every check OK once
    _stop_load_until_pending(run, first, load)
    run.kill(first, sig)
    run.monitor(**HEARTBEAT)
    run.pause(3.0)
    run.load()
    _finish_stream(run)


def _finish_stream(run: Run) -> None:
    """Wait for the RESOLVED email, then stop the endless ingest worker."""
    wait(lambda: all(run.watch.has(e) for e in run.expected), 150)
    for worker in run.lane.workers:
        if worker.command == "ingest" and worker.running():
            worker.stop(TERM, grace_s=20.0)


@fault("detector-sigterm-pending", "SIGTERM the detector while an alert waits in its group "
       "wait; the next detector resolves it", quick=True)  # fmt: skip
def detector_sigterm(run: Run) -> None:
    _detector_fault(run, TERM)


@fault("detector-kill9-pending", "kill -9 the detector while an alert waits in its group "
       "wait; the next detector emails and resolves it", quick=True)  # fmt: skip
def detector_kill9(run: Run) -> None:
    _detector_fault(run, KILL)


@fault("smtp-down-60s", "the SMTP server is down for 60 s while an alert fires and resolves")
def smtp_down(run: Run) -> None:
    run.ingest(0)
    load = run.load()
    run.wait_rows(200)
    run.monitor(**HEARTBEAT)
    _expect_load_stopped(run)
    run.pause(8.0)
    run.lane.mail.stop()
    run.inject()
    run.kill(load, TERM)
    run.pause(60.0)
    run.lane.mail.start()
    run.load()
    _finish_stream(run)


NAMES = tuple(f.name for f in FAULTS)
QUICK = tuple(f.name for f in FAULTS if f.quick)
