"""The detector's loop without a scheduler: results → alerts → one grouped email, even with
ClickHouse down; buffered rows reach ClickHouse once it is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from alerts.events import AlertEvent
from alerts.render import Notification
from monitor.build_detector import build_detector
from monitor.detector import Detector
from tickwatch.clock import ManualClock
from tickwatch.settings import AlertSettings, Settings, StackSettings
from tickwatch.telemetry.catalog import MonitorMetrics
from tickwatch.types import CheckResult, Status

from .monitor_fakes import FakeClickHouse, result


class Mailbox:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def __call__(self, n: Notification) -> None:
        self.sent.append(n)


def detector(
    tmp_path: Path, ch: FakeClickHouse, box: Mailbox, clock: ManualClock
) -> tuple[Detector, CollectorRegistry]:
    settings = Settings(
        _env_file=None,
        stack=StackSettings(state_dir=tmp_path),
        alerts=AlertSettings(group_wait_s=1.0),
    )
    registry = CollectorRegistry()
    return build_detector(settings, ch, box, MonitorMetrics(registry), clock), registry


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_clickhouse_down_still_alerts_by_email_and_rows_arrive_later(tmp_path: Path) -> None:
    clock, ch, box = ManualClock(), FakeClickHouse(), Mailbox()
    d, registry = detector(tmp_path, ch, box, clock)
    ch.down = True
    d.outbox.start()
    try:
        for _ in range(2):
            clock.advance(5)
            d.on_results(
                [
                    result(
                        Status.CRIT, clock.time(), "clickhouse_reachable", "http://127.0.0.1:8123"
                    ),
                    result(Status.UNKNOWN, clock.time(), "freshness", "*"),
                    result(Status.CRIT, clock.time(), "heartbeat", "load"),
                ]
            )
            d.flush()
        d.dispatch()
        assert box.sent == []  # group_wait not over yet
        clock.advance(1)
        d.dispatch()
        wait_for(lambda: len(box.sent) == 1)
    finally:
        d.outbox.stop(drain_s=1)
    (mail,) = box.sent
    assert set(mail.alert_keys) == {"clickhouse_reachable/http://127.0.0.1:8123", "heartbeat/load"}
    assert registry.get_sample_value("tickwatch_alerts_open", {"severity": "CRIT"}) == 2
    assert (
        registry.get_sample_value(
            "tickwatch_monitor_check_runs_total", {"check": "freshness", "status": "UNKNOWN"}
        )
        == 2
    )
    assert ch.inserted == {}
    ch.down = False
    d.flush()
    assert len(ch.inserted["ops.health_checks"]) == 6
    assert [r[4] for r in ch.inserted["ops.alert_events"]] == ["open", "open"]
    assert [r[5] for r in ch.inserted["ops.notifications"]] == ["sent"]


class RefusingMailbox(Mailbox):
    def __init__(self) -> None:
        super().__init__()
        self.refuse = True

    async def __call__(self, n: Notification) -> None:
        if self.refuse:
            from alerts.errors import DeliveryFailed

            raise DeliveryFailed("SMTPConnectError: connection refused")
        self.sent.append(n)


def test_restart_keeps_open_alerts_and_delivers_unsent_mail_once(tmp_path: Path) -> None:
    clock, ch = ManualClock(), FakeClickHouse()
    first_box = RefusingMailbox()
    first, _ = detector(tmp_path, ch, first_box, clock)
    first.outbox.start()
    for _ in range(2):
        clock.advance(5)
        first.on_results([result(Status.CRIT, clock.time(), "heartbeat", "load")])
    clock.advance(1)
    first.dispatch()
    wait_for(lambda: first.outbox.pending == 1)
    first.flush()
    first.outbox.stop(drain_s=0.2)
    first.flush()  # the snapshot now holds the open alert and the unsent email

    box = Mailbox()
    second, _ = detector(tmp_path, ch, box, clock)
    assert second.restore() == 1
    second.outbox.start()
    try:
        wait_for(lambda: len(box.sent) == 1)
        assert box.sent[0].subject == "[tickwatch] CRIT heartbeat/load"
        clock.advance(5)
        second.on_results([result(Status.CRIT, clock.time(), "heartbeat", "load")])
        clock.advance(5)
        second.dispatch()
        assert second.notifier.pending == 0  # still open, already announced: no new email
        for _ in range(2):
            clock.advance(5)
            second.on_results([result(Status.OK, clock.time(), "heartbeat", "load")])
        clock.advance(1)
        second.dispatch()
        wait_for(lambda: len(box.sent) == 2)
    finally:
        second.outbox.stop(drain_s=1)
    assert box.sent[1].subject == "[tickwatch] RESOLVED heartbeat/load"
    assert first_box.sent == []


def test_a_dispatch_during_observe_does_not_announce_an_alert_twice(tmp_path: Path) -> None:
    """A dispatch job that runs while a check's results are being observed must not find the
    new alert open-but-unannounced (it would queue a REPEAT beside the OPEN: one alert, twice)."""
    import threading

    clock, ch, box = ManualClock(), FakeClickHouse(), Mailbox()
    d, _ = detector(tmp_path, ch, box, clock)
    observe = d.book.observe
    racing: list[threading.Thread] = []

    def observe_while_dispatching(results: list[CheckResult]) -> list[AlertEvent]:
        events = observe(results)
        if d.book.open_alerts() and not racing:
            racing.append(threading.Thread(target=d.dispatch))
            racing[0].start()
            racing[0].join(0.5)  # blocked while on_results holds the detector's lock
        return events

    d.book.observe = observe_while_dispatching  # type: ignore[method-assign]
    for _ in range(2):
        clock.advance(5)
        d.on_results([result(Status.CRIT, clock.time(), "heartbeat", "load")])
    racing[0].join(5)
    clock.advance(1)
    d.dispatch()
    d.outbox.start()
    try:
        wait_for(lambda: len(box.sent) == 1)
    finally:
        d.outbox.stop(drain_s=1)
    (mail,) = box.sent
    assert mail.alert_keys == ("heartbeat/load",)
    assert "+1 more" not in mail.subject
