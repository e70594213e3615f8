"""Flap suppression at any period (issue 12 #9): a lag alternating around its threshold, sampled
every 2 s for an hour, sends a bounded, small number of emails whatever its period, one of them
a FLAPPING notice; stable alerts still open and resolve after two results."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.book import AlertBook
from alerts.events import AlertEvent, EventKind
from alerts.notifier import Notifier
from alerts.state import AlertPolicy
from tickwatch.clock import ManualClock
from tickwatch.types import Status

from .alert_helpers import notifier, result

SAMPLE_S = 2.0
HOUR = 3600.0
MAX_EMAILS_PER_FLAPPING_HOUR = 8  # at most flap_start_changes transitions + the notice
DEFAULTS = AlertPolicy()  # the same values as the AlertSettings defaults


def square_wave(period_s: float, t: float) -> Status:
    """Above the threshold for the first half of each period, below it for the second."""
    return Status.CRIT if (t % period_s) < period_s / 2 else Status.OK


def simulate(
    statuses: list[Status], policy: AlertPolicy = DEFAULTS
) -> tuple[list[list[AlertEvent]], AlertBook, Notifier, ManualClock]:
    """Feed one sample every 2 s into the book, dispatch after each; return the emails."""
    clock, book = ManualClock(1_800_000_000.0), AlertBook(policy)
    n = notifier(clock, group_wait=1, per_hour=30)
    emails: list[list[AlertEvent]] = []
    for status in statuses:
        clock.advance(SAMPLE_S / 2)
        n.submit(book.observe([result(status, clock.time(), check="consumer_lag", target="g/t")]))
        n.submit(n.repeats(book.open_alerts()))
        clock.advance(SAMPLE_S / 2)  # the 1-s group wait is over before the next sample
        if group := n.flush():
            emails.append(group)
    return emails, book, n, clock


@pytest.mark.parametrize("period_s", [8, 10, 12, 16, 20, 30, 40, 60, 90, 120])
def test_an_hour_of_flapping_at_any_period_sends_few_emails_with_a_flapping_notice(
    period_s: int,
) -> None:
    statuses = [square_wave(period_s, i * SAMPLE_S) for i in range(int(HOUR / SAMPLE_S))]
    emails, book, _, _ = simulate(statuses)
    kinds = [e.kind for group in emails for e in group]
    assert len(emails) <= MAX_EMAILS_PER_FLAPPING_HOUR, (period_s, kinds)
    assert kinds.count(EventKind.FLAPPING) == 1, (period_s, kinds)
    state = book.get("consumer_lag/g/t")
    assert state is not None and state.flapping


@pytest.mark.parametrize("period_s", [4, 6])
def test_oscillation_faster_than_the_hysteresis_never_toggles_the_alert(period_s: int) -> None:
    """At 4 s (C O C O) no two failing samples meet: nothing opens. At 6 s (C C O) it fails two
    samples in three and never passes two in a row: it opens once and stays open."""
    statuses = [square_wave(period_s, i * SAMPLE_S) for i in range(int(HOUR / SAMPLE_S))]
    emails, _, _, _ = simulate(statuses)
    assert len(emails) <= 1 and all(e.kind is EventKind.OPEN for g in emails for e in g)


def test_single_odd_samples_are_noise_not_flapping() -> None:
    blips = ([Status.OK] * 14 + [Status.CRIT]) * int(HOUR / SAMPLE_S / 15)  # one every 30 s
    emails, book, _, _ = simulate(blips)
    state = book.get("consumer_lag/g/t")
    assert emails == [] and state is not None and not state.flapping_slow


@pytest.mark.parametrize("settled", [Status.CRIT, Status.OK], ids=["failing", "passing"])
def test_flapping_ends_when_the_oscillation_stops_then_the_alert_follows_the_status(
    settled: Status,
) -> None:
    flapping = [square_wave(12, i * SAMPLE_S) for i in range(300)]  # 10 min of 12-s flapping
    emails, book, _, _ = simulate(flapping + [settled] * 600)  # then 20 minutes steady
    state = book.get("consumer_lag/g/t")
    assert state is not None and not state.flapping
    kinds = [[e.kind for e in group] for group in emails]
    if settled is Status.CRIT:  # it was frozen open while flapping: still open, nothing new
        assert state.open and kinds[-1] == [EventKind.FLAPPING]
    else:  # resolved once the flapping ended
        assert not state.open and kinds[-2:] == [[EventKind.FLAPPING], [EventKind.RESOLVE]]
    assert len(emails) <= MAX_EMAILS_PER_FLAPPING_HOUR


def test_stable_incidents_open_and_resolve_after_two_results_every_time() -> None:
    incident = [Status.CRIT] * 30 + [Status.OK] * 270  # 1 min bad, 9 min good, 3 times
    emails, _, _, _ = simulate(incident * 3)
    kinds = [[e.kind for e in group] for group in emails]
    assert kinds == [[EventKind.OPEN], [EventKind.RESOLVE]] * 3
    first_open, first_resolve = emails[0][0], emails[1][0]
    assert first_open.time - first_open.since == pytest.approx(SAMPLE_S)  # the 2nd sample
    assert first_resolve.time - first_open.time == pytest.approx(30 * SAMPLE_S)


def test_hysteresis_flapping_holds_while_changes_stay_above_the_stop_threshold() -> None:
    policy = AlertPolicy(flap_window_s=300, flap_start_changes=6, flap_stop_changes=2)
    slow = [square_wave(90, i * SAMPLE_S) for i in range(300)]  # 2 changes per 90 s
    emails, book, _, _ = simulate(slow, policy)
    state = book.get("consumer_lag/g/t")
    assert state is not None and state.flapping_slow
    assert [e.kind for g in emails for e in g].count(EventKind.FLAPPING) == 1


def test_a_stop_threshold_not_below_the_start_threshold_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    from monitor.errors import MonitorConfigError

    from .detector_scenarios import Mailbox, make_detector

    with pytest.raises(MonitorConfigError, match="TICKWATCH_ALERTS_FLAP_STOP_CHANGES"):
        make_detector(tmp_path, Mailbox(), ManualClock(), flap_start_changes=3, flap_stop_changes=3)


def test_the_flapping_notice_says_so_in_its_subject() -> None:
    from alerts.render import render

    statuses = [square_wave(12, i * SAMPLE_S) for i in range(100)]
    emails, _, _, _ = simulate(statuses)
    (notice,) = [g for g in emails if g[0].kind is EventKind.FLAPPING]
    mail = render(notice, "http://g", 1_800_000_000.0)
    assert mail.subject == "[tickwatch] FLAPPING consumer_lag/g/t"
    assert "FLAPPING" in mail.text and "opened or resolved 6 times" in mail.text
