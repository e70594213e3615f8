"""One fault from start to verdict: its lane, its seeded schedule, the settle, the figures.

Order of a fault: open the lane → the fault's own function (starts workers, injects the fault
at seeded moments, says which emails it expects and which messages are poison) → settle: wait
until every ingest worker has exited and every message in Kafka is a row or a dead letter
(bounded by ``settle_s``) and until the expected emails arrived (bounded by ``mail_s``) → stop
the detector, then every worker → count (:mod:`bench.faults.audit`) → close the lane.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

from bench.faults import audit, emails
from bench.faults.lane import Lane
from bench.faults.poison import Poison
from bench.faults.stack import FaultStack
from bench.worker import WorkerProcess
from pipeline.load.tables import TABLES
from pipeline.topics import record_topics

SETTLE_S = 150.0
MAIL_S = 120.0
POLL_S = 0.5


@dataclass
class FaultOutcome:
    """The row of one fault in the matrix (and its JSON)."""

    name: str
    what: str
    seed: int
    status: str = "ok"  # ok | failed (a finding) | error (the run itself broke)
    produced: int = 0
    rows: int = 0
    duplicates: int = 0
    lost: int = 0
    dead_letters: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    bad_inputs: int = 0
    bad_inputs_dead_lettered: int = 0
    bad_inputs_landed: int = 0
    emails_expected: int = 0
    emails_once: int = 0
    email_notes: list[str] = field(default_factory=list)
    detect_s: float | None = None
    deleted_unread: int = 0
    injections: int = 0
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def findings(self) -> list[str]:
        """What breaks the promise (empty when the fault was survived)."""
        out = []
        if self.lost:
            out.append(f"{self.lost} lost")
        if self.duplicates:
            out.append(f"{self.duplicates} duplicated")
        if self.bad_inputs_dead_lettered < self.bad_inputs:
            out.append(f"{self.bad_inputs - self.bad_inputs_dead_lettered} bad inputs not in DLQ")
        if self.bad_inputs_landed:
            out.append(f"{self.bad_inputs_landed} bad inputs landed")
        missing = [n for n in self.email_notes if not n.startswith("extra")]
        if self.emails_once < self.emails_expected:
            out.append("; ".join(missing) or "emails missing")
        extra = [n.removeprefix("extra ") for n in self.email_notes if n.startswith("extra")]
        if extra:
            out.append("unexpected alerts: " + ", ".join(extra))
        return out

    def as_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["findings"] = self.findings()
        return data


class Run:
    """What a fault function works with: its lane, a seeded RNG, the stack's levers, and helpers
    that start the real workers and record what the verdict needs."""

    def __init__(self, stack: FaultStack, lane: Lane, seed: int) -> None:
        self.stack, self.lane = stack, lane
        self.rng = random.Random(seed)
        self.expected: list[emails.Expected] = []
        self.bad: dict[audit.Coordinate, str] = {}  # coordinate -> expected reason prefix
        self.injected_at: float | None = None
        self.injections = 0
        self.notes: list[str] = []
        self.monitors: list[WorkerProcess] = []
        self.watch = emails.MailWatch(lane.mail.mail_dir)

    # -------------------------------------------------------------- workers

    def ingest(self, seconds: float, seed_offset: int = 0) -> WorkerProcess:
        """The simulator feeding the lane for ``seconds`` (0 = until stopped)."""
        env = self.lane.env(TICKWATCH_INGEST_DURATION_S=str(seconds),
                            TICKWATCH_INGEST_SEED=str(self.lane.seed + seed_offset))  # fmt: skip
        return self.lane.start("ingest", env)

    def load(self) -> WorkerProcess:
        return self.lane.start("load")

    def revive(self) -> None:
        """If no load worker runs, start one, as compose's ``restart: unless-stopped`` would
        (a load worker started while ClickHouse or Kafka is down exits by design)."""
        loads = [w for w in self.lane.workers if w.command == "load"]
        if loads and not any(w.running() for w in loads):
            code = loads[-1].wait(0)
            self.notes.append(f"{loads[-1].log_path.name} exited (code {code}): restarted")
            self.load()

    def monitor(self, **env: str) -> WorkerProcess:
        worker = self.lane.start("monitor", self.lane.env(**env))
        self.monitors.append(worker)
        return worker

    def kill(self, worker: WorkerProcess, sig: int) -> None:
        self.lane.kill(worker, sig)
        self.injections += 1

    def inject(self) -> None:
        """Mark the moment the fault under test begins (time to detect counts from here)."""
        if self.injected_at is None:
            self.injected_at = time.time()
        self.injections += 1

    # -------------------------------------------------------------- waiting

    def sleep(self, low: float, high: float) -> float:
        """Sleep a seeded random time in [low, high] s; returns it."""
        seconds = self.rng.uniform(low, high)
        self.pause(seconds)
        return seconds

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` while watching the mailbox (so detection times are exact)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.watch.poll()
            time.sleep(min(POLL_S, left))

    def rows(self) -> int:
        client = self.lane.client()
        try:
            return sum(
                int(client.query(f"SELECT count() FROM {t}").result_rows[0][0])
                for t in TABLES.values()
            )
        finally:
            client.close()

    def wait_rows(self, at_least: int, timeout_s: float = 90.0) -> bool:
        return wait(lambda: _quiet(self.rows) >= at_least, timeout_s)

    def expect(self, check: str, verb: str) -> None:
        self.expected.append(emails.Expected(check, verb))

    # -------------------------------------------------------------- bad input

    def produce(self, poisons: list[Poison]) -> list[audit.Coordinate]:
        """Produce ``poisons`` to the lane's topics (straight, not through ingest); each one's
        coordinate is recorded as a bad input that must become a dead letter."""
        topics = record_topics(self.lane.kafka)
        conf = self.lane.kafka.client_config(self.stack.bootstrap) | {
            "message.max.bytes": 1_000_000, "enable.idempotence": True,
        }  # fmt: skip
        producer = Producer(conf)
        done: list[audit.Coordinate] = []

        def delivered(err: object, msg: Any) -> None:
            if err is None:
                done.append((msg.topic(), msg.partition(), msg.offset()))
            else:
                self.notes.append(f"poison not produced: {err}")

        for p in poisons:
            producer.produce(topics[p.topic_kind], p.value, p.key, on_delivery=delivered)
            producer.poll(0)
        producer.flush(30)
        for coordinate in done:
            self.bad[coordinate] = ""
        self.injections += len(done)
        return done


def wait(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``condition`` every half second until true or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_S)
    return condition()


def _quiet(read: Callable[[], int]) -> int:
    """``read()``, or -1 while the service is down (a fault may have broken it)."""
    try:
        return read()
    except Exception:  # any client error while ClickHouse is down or hung means "not yet"
        return -1


FaultFn = Callable[[Run], None]


@dataclass(frozen=True)
class Fault:
    """A fault of the matrix: ``quick`` = in the small subset; ``breaks`` = it kills or stops
    Kafka or ClickHouse (so it needs the run's own services)."""

    name: str
    what: str
    fn: FaultFn
    quick: bool = False
    breaks: bool = False


def execute(stack: FaultStack, fault: Fault, seed: int, root: Path, *, keep: bool = False
            ) -> FaultOutcome:  # fmt: skip
    """Run one fault and judge it; never raises (a broken run is an ``error`` row)."""
    name, fn = fault.name, fault.fn
    out = FaultOutcome(name, fault.what, seed)
    started = time.monotonic()
    lane = Lane(stack, name, root, seed)
    run = Run(stack, lane, seed)
    try:
        lane.open()
        fn(run)
        _settle(run, out)
        _judge(run, out)
    except Exception as exc:  # the row must say what broke, whatever it was
        out.status, out.error = "error", f"{type(exc).__name__}: {exc}"
        out.notes.append(traceback.format_exc(limit=3))
    finally:
        stack.continue_clickhouse()
        lane.close(keep=keep or out.status != "ok")
        out.wall_s = round(time.monotonic() - started, 1)
    return out


def _settle(run: Run, out: FaultOutcome) -> None:
    """Ingest done, every message accounted for, the expected emails in; monitors stopped."""
    ingesting = [w for w in run.lane.workers if w.command == "ingest"]
    wait(lambda: not any(w.running() for w in ingesting), SETTLE_S)
    if any(w.running() for w in ingesting):
        out.notes.append("an ingest worker had not exited by itself: stopped")
    client = run.lane.client()
    try:

        def accounted() -> bool:
            run.revive()
            return _quiet(lambda: audit.tally(run.lane.kafka, run.stack.bootstrap, client,
                                              run.lane.ops).lost) == 0  # fmt: skip

        if not wait(accounted, SETTLE_S):
            out.notes.append(f"not every message accounted for after {SETTLE_S:.0f} s")
    finally:
        client.close()
    wait(lambda: all(run.watch.has(e) for e in run.expected), MAIL_S if run.expected else 0)
    for monitor in run.monitors:
        monitor.stop()
    time.sleep(1.0 if run.monitors else 0.0)


def _judge(run: Run, out: FaultOutcome) -> None:
    client = run.lane.client()
    try:
        t = audit.tally(run.lane.kafka, run.stack.bootstrap, client, run.lane.ops)
    finally:
        client.close()
    out.produced, out.rows, out.duplicates, out.lost = t.produced, t.rows, t.duplicates, t.lost
    out.dead_letters, out.reasons = len(t.dead_letters), dict(t.reasons().most_common())
    out.deleted_unread, out.injections = t.deleted_unread, run.injections
    out.bad_inputs = len(run.bad)
    out.bad_inputs_dead_lettered = sum(
        1 for c, prefix in run.bad.items()
        if t.dead_letters.get(c, "").startswith(prefix) and t.dead_letters.get(c)
    )  # fmt: skip
    out.bad_inputs_landed = len(set(run.bad) & t.loaded)
    if t.both():
        out.notes.append(f"{len(t.both())} messages are both a row and a dead letter")
    if t.lost:
        out.notes.append("missing e.g. " + orjson.dumps(sorted(t.missing)[:5]).decode())
    got = emails.received(run.lane.mail.mail_dir)
    out.emails_once, out.emails_expected, out.email_notes = emails.compare(run.expected, got)
    first = [run.watch.first_seen[e] for e in run.expected
             if e.verb == emails.FIRING and e in run.watch.first_seen]  # fmt: skip
    after = [
        t - run.injected_at for t in first if run.injected_at is not None and t >= run.injected_at
    ]
    if after:
        out.detect_s = round(min(after), 1)
    out.notes += run.notes
    out.status = "failed" if out.findings() else "ok"
