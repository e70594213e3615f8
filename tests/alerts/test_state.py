"""The per-key state machine: hysteresis, resolve, severity changes, UNKNOWN, flapping."""

from __future__ import annotations

from alerts.events import EventKind
from tickwatch.clock import ManualClock
from tickwatch.types import Status

from .alert_helpers import book, feed


def kinds(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.kind.value for e in events]


def test_one_failure_does_not_open_two_in_a_row_do() -> None:
    clock, b = ManualClock(), book()
    assert feed(b, clock, "OCO") == []
    events = feed(b, clock, "CC")
    assert kinds(events) == ["open"]
    assert events[0].severity is Status.CRIT
    assert events[0].since == clock.time() - 1  # since the first failure of the streak


def test_resolves_only_after_enough_successes() -> None:
    clock, b = ManualClock(), book()
    feed(b, clock, "WW")
    assert feed(b, clock, "OWO") == []
    events = feed(b, clock, "O")
    assert kinds(events) == ["resolve"] and events[0].previous is Status.WARN


def test_severity_change_while_open() -> None:
    clock, b = ManualClock(), book()
    events = feed(b, clock, "WWCW")
    assert kinds(events) == ["open", "severity_change", "severity_change"]
    assert events[1].escalation and not events[2].escalation


def test_unknown_neither_opens_nor_resolves() -> None:
    clock, b = ManualClock(), book()
    assert feed(b, clock, "CUUUC") != []  # the two CRITs around the UNKNOWNs still count
    assert feed(b, clock, "OUUU") == []
    assert b.open_alerts() != []


def test_flapping_freezes_open_and_resolve() -> None:
    clock, b = ManualClock(), book()
    assert kinds(feed(b, clock, "CCOOCCOO")) == ["open", "resolve", "open", "resolve"]
    assert feed(b, clock, "CC") == []  # 4 transitions in the window: flapping, not reopened
    state = b.get("freshness/trades/crypto")
    assert state is not None and state.flapping and not state.open
    assert kinds(feed(b, clock, "CCCCCCC")) == ["open"]  # settled: old flips left the window


def test_detail_rows_do_not_alert() -> None:
    from dataclasses import replace

    from .alert_helpers import result

    b = book()
    rows = [replace(result(Status.CRIT, t), alertable=False) for t in (1.0, 2.0, 3.0)]
    assert b.observe(rows) == []


def test_alert_whose_target_disappears_expires_but_not_while_its_check_measures_nothing() -> None:
    clock, b = ManualClock(), book()
    feed(b, clock, "CC", target="gone")
    feed(b, clock, "UUUU", target="other")  # the check measures nothing (dependency down)
    clock.advance(3600)
    feed(b, clock, "U", target="other")
    assert b.expire() == []
    feed(b, clock, "O", target="other")  # measuring again, but not "gone": stale by 3600 s
    (event,) = b.expire()
    assert event.kind is EventKind.RESOLVE and event.key == "freshness/gone"
    assert "no longer reported" in event.message
    assert b.open_alerts() == [] and b.expire() == []
