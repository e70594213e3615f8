"""Dependency-aware alerting (issue 12 #8 and "What to build"): a ClickHouse outage produces
exactly the alert of its own reachability check — one email naming the root cause, and one
RESOLVED listing what was inhibited — however the dependants read pre-outage data after it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.checks.base import DEPENDS_ON, Check, run_check
from monitor.checks.heartbeats import HeartbeatCheck
from monitor.checks.pipeline_rates import LatencyCheck
from monitor.checks.reachability import ClickHouseReachableCheck
from monitor.detector import Detector
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clients import clickhouse_client
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings
from tickwatch.types import CheckResult, Status

from .alert_helpers import RecordingClickHouse, wait_until
from .detector_scenarios import Mailbox, make_detector, restart, sigterm

CH = "clickhouse_reachable/http://ch:8123"


def round_(d: Detector, clock: ManualClock, ch: Status, beats: Status) -> None:
    """One 5-s round: the reachability check and the heartbeat check for two services."""
    clock.advance(5)
    now = clock.time()
    target = CH.split("/", 1)[1]
    rows = [CheckResult(now, "clickhouse_reachable", target, ch, 0.0, 0.0, f"ch {ch.name}")]
    if beats is Status.UNKNOWN:
        rows.append(CheckResult(now, "heartbeat", "*", beats, 0.0, 0.0, "ClickHouse down"))
    else:
        rows += [CheckResult(now, "heartbeat", s, beats, 90.0, 30.0, f"{s} {beats.name}")
                 for s in ("ingest", "load")]  # fmt: skip
    d.on_results(rows)
    d.dispatch()


def outage(d: Detector, clock: ManualClock, *, stale_rounds: int, after: Status) -> None:
    """Healthy, ClickHouse down 60 s, back: heartbeats read pre-outage rows for a while."""
    for _ in range(3):
        round_(d, clock, Status.OK, Status.OK)
    for _ in range(12):
        round_(d, clock, Status.CRIT, Status.UNKNOWN)
    for _ in range(stale_rounds):
        round_(d, clock, Status.OK, Status.CRIT)
    for _ in range(16):  # 80 s: past the 60-s grace period
        round_(d, clock, Status.OK, after)


def detector(tmp_path: Path, box: Mailbox, clock: ManualClock) -> tuple[Detector, Any]:
    ch = RecordingClickHouse()
    d, _ = make_detector(tmp_path, box, clock, ch=ch, inhibit_grace_s=60)
    d.inhibitor.declare(DEPENDS_ON)
    return d, ch


def test_an_outage_emails_its_root_cause_once_and_lists_what_it_inhibited(tmp_path: Path) -> None:
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    d, ch = detector(tmp_path, box, clock)
    d.outbox.start()
    try:
        outage(d, clock, stale_rounds=4, after=Status.OK)
        wait_until(lambda: d.outbox.pending == 0 and len(box.sent) >= 2)
    finally:
        sigterm(d)
    assert [n.alert_keys for n in box.sent] == [(CH,), (CH,)]
    fired, resolved = box.sent
    assert "root cause" in fired.text and "heartbeat" in fired.text
    assert resolved.subject == f"[tickwatch] RESOLVED {CH}"
    assert "inhibited meanwhile: heartbeat/ingest (open), heartbeat/load (open)" in resolved.text
    d.flush()
    events = [(r[1], r[4]) for r in ch.inserted["ops.alert_events"]]
    assert ("heartbeat/load", "inhibited") in events and ("heartbeat/load", "open") not in events
    assert [e for e in events if e[0] == CH] == [(CH, "open"), (CH, "resolve")]


def test_a_dependant_still_failing_after_the_grace_period_is_announced(tmp_path: Path) -> None:
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    d, _ = detector(tmp_path, box, clock)
    d.outbox.start()
    try:
        outage(d, clock, stale_rounds=4, after=Status.CRIT)  # the workers really are gone
        wait_until(lambda: d.outbox.pending == 0 and len(box.sent) >= 2)
    finally:
        sigterm(d)
    fired, later = box.sent  # the RESOLVE and the announcement go out in one group
    assert fired.alert_keys == (CH,)
    assert set(later.alert_keys) == {CH, "heartbeat/ingest", "heartbeat/load"}
    assert later.text.count("STILL FIRING") == 2 and "RESOLVED" in later.text


def test_the_held_resolve_survives_a_restart_within_the_grace_period(tmp_path: Path) -> None:
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    d, _ = detector(tmp_path, box, clock)
    d.outbox.start()
    for _ in range(12):
        round_(d, clock, Status.CRIT, Status.UNKNOWN)
    for _ in range(3):
        round_(d, clock, Status.OK, Status.CRIT)  # resolved; RESOLVE held for the grace period
    wait_until(lambda: len(box.sent) == 1)
    d.outbox.stop(0.5)  # crash

    second, _ = restart(tmp_path, box, clock, inhibit_grace_s=60)
    second.inhibitor.declare(DEPENDS_ON)
    second.outbox.start()
    try:
        for _ in range(12):
            round_(second, clock, Status.OK, Status.OK)
        wait_until(lambda: len(box.sent) == 2)
    finally:
        sigterm(second)
    assert box.sent[1].subject == f"[tickwatch] RESOLVED {CH}"
    assert "heartbeat/load (open)" in box.sent[1].text


# --- the checks themselves judge only data that could have arrived -------------------------


class Switchable(ClickHouseHandle):
    """A real ClickHouse handle that can be made unreachable (an outage) and back."""

    def __init__(self, real: Callable[[], Any]) -> None:
        self.down = False
        super().__init__(lambda: self._connect(real))

    def _connect(self, real: Callable[[], Any]) -> Any:
        if self.down:
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        return real()

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[Any]:
        if self.down:
            self.close()
        return super().rows(sql, parameters)

    def command(self, sql: str) -> Any:
        if self.down:
            self.close()
        return super().command(sql)


@pytest.mark.clickhouse
def test_after_a_real_clickhouse_outage_heartbeats_and_latency_do_not_alert(
    tmp_path: Path, ch_settings: ClickHouseSettings
) -> None:
    handle = Switchable(lambda: clickhouse_client(ch_settings, ch_settings.url))
    now = time.time()
    beat = datetime.fromtimestamp(now, tz=UTC)
    columns = ["time", "service", "instance", "host", "pid", "started", "status", "details"]
    rows: list[list[object]] = [
        [beat, s, "h:1", "h", 1, beat, "ok", {}] for s in ("ingest", "load")
    ]
    handle.insert(f"{ch_settings.ops_database}.heartbeats", rows, columns)
    clock, box = ManualClock(now), Mailbox()
    d, _ = make_detector(tmp_path, box, clock, ch=RecordingClickHouse(), inhibit_grace_s=0)
    d.inhibitor.declare(DEPENDS_ON)
    ops, market = ch_settings.ops_database, ch_settings.market_database
    checks: list[Check] = [
        ClickHouseReachableCheck(handle, ch_settings.url, interval_s=5, clock=clock),
        HeartbeatCheck(handle, ops, ["ingest", "load"], timeout_s=30, interval_s=5, clock=clock),
        LatencyCheck(handle, market, threshold_s=5, interval_s=15, clock=clock),
    ]

    def rounds(n: int) -> None:
        for _ in range(n):
            clock.advance(5)
            for check in checks:
                d.on_results(run_check(check, clock))
            d.dispatch()

    d.outbox.start()
    try:
        rounds(2)
        handle.down = True
        rounds(12)  # 60 s down: no heartbeat can be written meanwhile
        handle.down = False
        rounds(4)  # back: the newest heartbeats are 60+ s old, but could not have arrived
        fresh = datetime.fromtimestamp(clock.time(), tz=UTC)
        new_rows: list[list[object]] = [[fresh, s, "h:2", "h", 2, fresh, "ok", {}]
                                        for s in ("ingest", "load")]  # fmt: skip
        handle.insert(f"{ops}.heartbeats", new_rows, columns)
        rounds(4)
        wait_until(lambda: d.outbox.pending == 0 and len(box.sent) >= 2)
    finally:
        sigterm(d)
    assert [n.alert_keys for n in box.sent] == [(f"clickhouse_reachable/{ch_settings.url}",)] * 2
    assert d.book.open_alerts() == []


def test_a_kafka_outage_does_not_page_for_the_stale_data_it_causes(tmp_path: Path) -> None:
    """Freshness reads ClickHouse, which answers: its data is stale because Kafka is down."""
    clock, box = ManualClock(1_800_000_000.0), Mailbox()
    d, _ = detector(tmp_path, box, clock)
    kafka = "kafka_reachable/127.0.0.1:9092"

    def step(kafka_status: Status, fresh: Status) -> None:
        clock.advance(5)
        now = clock.time()
        d.on_results([
            CheckResult(now, "kafka_reachable", kafka.split("/", 1)[1], kafka_status, 0, 0, "k"),
            CheckResult(now, "freshness", "trades/crypto", fresh, 90.0, 30.0, "stale"),
            CheckResult(now, "consumer_lag", "*", Status.UNKNOWN, 0, 0, "Kafka down"),
        ])  # fmt: skip
        d.dispatch()

    d.outbox.start()
    try:
        for _ in range(10):
            step(Status.CRIT, Status.CRIT)
        for _ in range(4):
            step(Status.OK, Status.CRIT)  # the backlog is still being loaded
        for _ in range(14):
            step(Status.OK, Status.OK)
        wait_until(lambda: d.outbox.pending == 0 and len(box.sent) >= 2)
    finally:
        sigterm(d)
    assert [n.alert_keys for n in box.sent] == [(kafka,), (kafka,)]
    assert "freshness/trades/crypto (open)" in box.sent[1].text
