"""The outbox: never blocks the caller, retries with backoff, delivers each email exactly once."""

from __future__ import annotations

from alerts.errors import DeliveryFailed
from alerts.journal import Journal
from alerts.outbox import Outbox
from alerts.render import Notification
from tickwatch.clock import SystemClock

from .alert_helpers import RecordingClickHouse, wait_until


class FlakySmtp:
    """Fails while ``down``; records what it delivered."""

    def __init__(self) -> None:
        self.down = False
        self.delivered: list[str] = []
        self.attempts = 0

    async def __call__(self, n: Notification) -> None:
        self.attempts += 1
        if self.down:
            raise DeliveryFailed("ConnectionRefusedError: [Errno 111]")
        self.delivered.append(n.id)


def note(i: int) -> Notification:
    return Notification(f"n{i}", 0.0, f"subject {i}", "text", "<p>html</p>", (f"k/{i}",))


def make(smtp: FlakySmtp, ch: RecordingClickHouse, max_items: int = 10) -> tuple[Outbox, Journal]:
    journal = Journal(ch, "ops")
    outbox = Outbox(
        smtp, journal, ["oncall@x"], max_items=max_items, retry_initial_s=0.01,
        retry_max_s=0.05, clock=SystemClock(),
    )  # fmt: skip
    return outbox, journal


def test_smtp_down_then_up_delivers_everything_once_in_order() -> None:
    smtp, ch = FlakySmtp(), RecordingClickHouse()
    outbox, journal = make(smtp, ch)
    smtp.down = True
    outbox.start()
    try:
        outbox.put(note(1))
        outbox.put(note(2))  # returns at once although SMTP is down
        wait_until(lambda: smtp.attempts >= 3)
        assert smtp.delivered == [] and outbox.pending == 2
        smtp.down = False
        wait_until(lambda: outbox.pending == 0)
    finally:
        outbox.stop(drain_s=1)
    assert smtp.delivered == ["n1", "n2"]
    journal.flush()
    statuses = ch.statuses()
    assert [s for s, _ in statuses].count("sent") == 2
    assert "retrying" in {s for s, _ in statuses}


def test_overflow_drops_the_oldest_waiting_and_records_it() -> None:
    smtp, ch = FlakySmtp(), RecordingClickHouse()
    outbox, journal = make(smtp, ch, max_items=2)
    for i in range(3):
        outbox.put(note(i))  # not started: nothing in flight
    assert outbox.pending == 2
    journal.flush()
    assert ch.statuses() == [("failed", 0)]


def test_stopping_with_smtp_down_keeps_the_mail_for_the_next_process() -> None:
    smtp, ch = FlakySmtp(), RecordingClickHouse()
    outbox, journal = make(smtp, ch)
    smtp.down = True
    outbox.start()
    outbox.put(note(1))
    wait_until(lambda: smtp.attempts >= 1)
    outbox.stop(drain_s=0.1)
    journal.flush()
    assert [n.id for n in outbox.undelivered()] == ["n1"]
    assert {s for s, _ in ch.statuses()} == {"retrying"}
