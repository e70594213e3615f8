"""Notification policy: grouping, repeat interval, resolve, silences, maintenance windows, rate."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts.book import AlertBook
from alerts.events import AlertEvent, EventKind
from alerts.notifier import Notifier
from alerts.silences import parse_silences
from alerts.windows import parse_windows
from tickwatch.clock import ManualClock

from .alert_helpers import book, feed, notifier


def run(n: Notifier, b: AlertBook, clock: ManualClock, statuses: str, **kw: str) -> None:
    n.submit(feed(b, clock, statuses, **kw))


def flush_after(n: Notifier, clock: ManualClock, seconds: float) -> list[AlertEvent]:
    clock.advance(seconds)
    return n.flush()


def test_alerts_raised_together_go_out_in_one_email_after_group_wait() -> None:
    clock, b = ManualClock(), book()
    n = notifier(clock, group_wait=1)
    run(n, b, clock, "CC", target="a")
    run(n, b, clock, "WW", target="b")  # 1-2 s later: while the first group still waits?
    group = n.flush()
    assert [e.target for e in group] == ["a", "b"]
    assert n.flush() == []


def test_nothing_is_sent_before_group_wait_expires() -> None:
    clock, b = ManualClock(), book()
    n = notifier(clock, group_wait=30)
    run(n, b, clock, "CC")
    assert n.flush() == []
    assert [e.kind for e in flush_after(n, clock, 30)] == [EventKind.OPEN]


def test_repeat_while_open_every_repeat_interval_then_resolve() -> None:
    clock, b = ManualClock(), book()
    n = notifier(clock, repeat=600, group_wait=0)
    run(n, b, clock, "CC")
    assert [e.kind for e in n.flush()] == [EventKind.OPEN]
    clock.advance(599)
    assert n.repeats(b.open_alerts()) == []
    clock.advance(1)
    repeats = n.repeats(b.open_alerts())
    assert [e.kind for e in repeats] == [EventKind.REPEAT]
    n.submit(repeats)
    assert len(n.flush()) == 1
    assert n.repeats(b.open_alerts()) == []  # the repeat restarted the interval
    run(n, b, clock, "OO")
    assert [e.kind for e in n.flush()] == [EventKind.RESOLVE]
    assert n.repeats(b.open_alerts()) == []


def test_resolve_of_an_alert_never_announced_is_not_sent() -> None:
    clock, b = ManualClock(), book()
    silences = parse_silences("freshness/* until 2030-01-01T00:00Z")
    n = notifier(clock, silences=silences, group_wait=0)
    run(n, b, clock, "CCOO")
    assert n.flush() == []


def test_only_escalations_are_announced() -> None:
    clock, b = ManualClock(), book()
    n = notifier(clock, group_wait=0)
    run(n, b, clock, "WWC")
    assert [e.kind for e in n.flush()] == [EventKind.OPEN, EventKind.SEVERITY]
    run(n, b, clock, "W")
    assert n.flush() == []


def test_silenced_alert_is_announced_when_the_silence_ends_if_still_open() -> None:
    start = datetime(2026, 11, 21, 6, 0, tzinfo=UTC).timestamp()
    clock, b = ManualClock(start), book()
    silences = parse_silences("consumer_lag/* from 2026-11-21T06:00Z until 2026-11-21T06:10Z")
    n = notifier(clock, silences=silences, group_wait=0)
    run(n, b, clock, "CC", check="consumer_lag", target="g/t")
    run(n, b, clock, "CC", check="freshness", target="trades/fx")  # not matched
    assert [e.key for e in n.flush()] == ["freshness/trades/fx"]
    clock.advance(300)
    assert n.repeats(b.open_alerts()) == []  # still silenced
    clock.advance(300)
    due = n.repeats(b.open_alerts())
    assert [(e.key, e.kind) for e in due] == [("consumer_lag/g/t", EventKind.REPEAT)]


def test_maintenance_window_mutes_matching_alerts_inside_the_window_only() -> None:
    saturday_noon = datetime(2026, 11, 21, 12, 0, tzinfo=UTC).timestamp()
    clock, b = ManualClock(saturday_noon), book()
    windows = parse_windows("Sat,Sun 00:00-24:00 UTC heartbeat/*; Mon-Fri 21:00-02:00 UTC *")
    n = notifier(clock, windows=windows, group_wait=0)
    run(n, b, clock, "CC", check="heartbeat", target="load")
    run(n, b, clock, "CC", check="dlq_rate", target="ops.dead_letters")
    assert [e.check for e in n.flush()] == ["dlq_rate"]


def test_rate_limit_holds_emails_and_merges_what_comes_meanwhile() -> None:
    clock, b = ManualClock(), book()
    n = notifier(clock, group_wait=0, per_hour=2)
    sent = []
    for target in ("a", "b", "c", "d"):
        run(n, b, clock, "CC", target=target)
        sent.append([e.target for e in n.flush()])
    assert sent == [["a"], ["b"], [], []]
    clock.advance(3600)
    assert [e.target for e in n.flush()] == ["c", "d"]
