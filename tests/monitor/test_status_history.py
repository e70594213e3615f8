"""Incidents from the alert history, the check board, and the status page's reads of the real
ClickHouse (uptime bars, events, notifications, insert rate)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.events import EVENT_COLUMNS, AlertEvent, EventKind
from alerts.journal import NOTIFICATION_COLUMNS
from alerts.state import AlertState
from monitor.errors import CheckUnavailable
from monitor.status.board import CheckBoard, ObservedCheck
from monitor.status.history import SLOTS, EventRow, History, NotificationRow
from monitor.status.incidents import build_incidents
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import ManualClock
from tickwatch.settings import ClickHouseSettings
from tickwatch.types import HEALTH_COLUMNS, CheckResult, Status

T0 = 1_764_000_000.0


def ev(t: float, key: str, kind: str, severity: str = "CRIT") -> EventRow:
    return EventRow(T0 + t, key, kind, severity, T0, f"{key} {kind}")


def test_incidents_have_their_events_and_emails_in_order() -> None:
    events = [ev(0, "a/x", "open"), ev(60, "a/x", "repeat"), ev(90, "a/x", "resolve", "OK"),
              ev(100, "b/y", "open", "WARN"), ev(200, "a/x", "open")]  # fmt: skip
    notes = [
        NotificationRow(T0 + 2, "[tickwatch] CRIT a/x", ("a/x",), "sent", ""),
        NotificationRow(T0 + 92, "[tickwatch] RESOLVED a/x", ("a/x",), "sent", ""),
        NotificationRow(T0 + 101, "WARN b/y", ("b/y",), "suppressed", "silence 1 (b/*)"),
    ]
    open_b = AlertState("b/y", "b", "y", deque(), open=True, severity=Status.WARN, since=T0 + 99)
    incidents = build_incidents(events, notes, [open_b], T0 + 300)
    assert [(i.key, i.open) for i in incidents] == [("a/x", False), ("b/y", True), ("a/x", False)]
    first = incidents[2]
    assert [e.kind for e in first.timeline] == ["open", "email_sent", "repeat", "resolve",
                                                "email_sent"]  # fmt: skip
    assert first.resolved == T0 + 90 and first.emails_sent == 2
    held = incidents[1].timeline[-1]
    assert held.kind == "email_suppressed" and "silence 1 (b/*)" in held.text
    assert incidents[0].resolved is None and not incidents[0].open  # reopened, then not in memory


def test_an_open_alert_not_yet_in_the_history_is_an_incident() -> None:
    state = AlertState("c/z", "c", "z", deque(), open=True, severity=Status.CRIT, since=T0)
    (incident,) = build_incidents([], [], [state], T0 + 10)
    assert incident.open and "not yet in the history" in incident.timeline[0].text


def test_board_keeps_since_until_the_status_changes_and_marks_outages_unknown() -> None:
    clock = ManualClock(T0)
    board = CheckBoard(clock)

    class Flaky:
        name, interval_s = "freshness", 5.0
        down = False

        def run(self) -> list[CheckResult]:
            if self.down:
                raise CheckUnavailable("ClickHouse: connection refused")
            return [CheckResult(clock.time(), "freshness", "trades/crypto", Status.OK, 1, 5, "ok")]

    check = Flaky()
    observed = ObservedCheck(check, board)
    observed.run()
    clock.advance(5)
    observed.run()
    (state,) = board.states()
    assert state.since == T0 and state.result.time == T0 + 5
    check.down = True
    clock.advance(5)
    with pytest.raises(CheckUnavailable):
        observed.run()
    (state,) = board.states()
    assert state.result.status is Status.UNKNOWN and state.since == T0 + 10
    assert "connection refused" in state.result.message


@pytest.mark.clickhouse
def test_history_reads_the_real_tables(ch_settings: ClickHouseSettings) -> None:
    from tickwatch.clients import clickhouse_client

    ops = ch_settings.ops_database
    now = float(int(time.time()))  # recent rows: older ones would fall to the tables' TTL
    start = now - 24 * 3600
    width = (now - start) / SLOTS
    handle = ClickHouseHandle(lambda: clickhouse_client(ch_settings, ch_settings.url))
    health = [[at(start + 1), "heartbeat", "load", "OK", 1.0, 5.0, "", 1.0],
              [at(start + 2), "heartbeat", "load", "CRIT", 9.0, 5.0, "", 1.0],
              [at(start + width * 3 + 1), "heartbeat", "load", "UNKNOWN", 0.0, 5.0, "", 1.0],
              [at(now - 10), "heartbeat", "ingest", "WARN", 6.0, 5.0, "", 1.0]]  # fmt: skip
    handle.insert(f"{ops}.health_checks", health, HEALTH_COLUMNS)
    event = AlertEvent(start + 2, "heartbeat/load", "heartbeat", "load", EventKind.OPEN,
                       Status.CRIT, start + 1, 9.0, 5.0, "down")  # fmt: skip
    handle.insert(f"{ops}.alert_events", [event.row()], EVENT_COLUMNS)
    note = [at(start + 3), "email", ["a@b"], "subj", ["heartbeat/load"], "sent", 1, ""]
    handle.insert(f"{ops}.notifications", [note], NOTIFICATION_COLUMNS)

    history = History(handle, ops, ch_settings.market_database)
    bars = history.uptime(["heartbeat", "latency_p99"], start, now)
    slots = bars["heartbeat"]
    assert len(slots) == SLOTS and (slots[0].ok, slots[0].crit) == (1, 1)
    assert slots[3].measured == 0 and slots[-1].warn == 1
    assert all(s.measured == 0 for s in bars["latency_p99"])
    (row,) = history.events(start)
    assert (row.key, row.kind, row.since) == ("heartbeat/load", "open", start + 1)
    (sent,) = history.notifications(start)
    assert sent.keys == ("heartbeat/load",) and sent.status == "sent"
    assert history.ticks_per_second(now) == 0.0


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def test_the_page_lists_open_incidents_and_the_newest_resolved_ones(tmp_path: Path) -> None:
    from alerts.book import AlertBook
    from alerts.silence_store import SilenceStore
    from alerts.state import AlertPolicy
    from monitor.status.view import RESOLVED_ON_PAGE, Mutes, StatusView

    from .monitor_fakes import FakeClickHouse

    def answer(sql: str, _params: dict[str, Any]) -> list[Sequence[Any]]:
        if "alert_events" not in sql:
            return [[0]] if sql.startswith("SELECT count()") else []
        rows: list[Sequence[Any]] = []
        for n in range(RESOLVED_ON_PAGE + 5):
            for offset, kind in ((0, "open"), (5, "resolve")):
                t = at(T0 + n * 10 + offset)
                rows.append([t, f"k/{n}", kind, "CRIT", at(T0 + n * 10), "m"])
        return rows

    clock = ManualClock(T0 + 3600)
    mutes = Mutes([], [], SilenceStore(tmp_path), SilenceStore(tmp_path, "maintenance.json"))
    history = History(FakeClickHouse(answer), "ops", "market")
    view = StatusView(CheckBoard(clock), AlertBook(AlertPolicy()), history, mutes, clock)
    snapshot = view.snapshot()
    assert len(snapshot.incidents) == RESOLVED_ON_PAGE and snapshot.older_resolved == 5
    assert snapshot.incidents[0].key == f"k/{RESOLVED_ON_PAGE + 4}"  # newest first
