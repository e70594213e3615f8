"""The fault matrix's own logic, without services: poison kinds, email accounting, options."""

from __future__ import annotations

import time
from email.message import EmailMessage

import pytest

from bench.faults import catalog, cli, emails, poison
from pipeline.codec import ValidationRules, decode, validate
from pipeline.errors import InvalidMessage
from tickwatch.settings import LoadSettings


def test_every_poison_kind_is_rejected_by_validation_with_a_reason() -> None:
    now = int(time.time() * 1e6)
    rules = ValidationRules.from_settings(LoadSettings())
    kinds = poison.kinds(now)
    assert len(kinds) >= 25 and len({p.kind for p in kinds}) == len(kinds)
    for p in kinds:
        with pytest.raises(InvalidMessage) as caught:
            validate(decode(p.value), p.topic_kind, rules, now)
        assert caught.value.reason, p.kind


def test_the_builders_make_valid_records_when_unchanged() -> None:
    now = int(time.time() * 1e6)
    rules = ValidationRules.from_settings(LoadSettings())
    for build, kind in ((poison.trade, poison.T), (poison.quote, poison.Q), (poison.bar, poison.B)):
        validate(build(now), kind, rules, now)


def mail(*events: tuple[str, str]) -> EmailMessage:
    m = EmailMessage()
    m["Subject"] = "[tickwatch] x"
    body = "[tickwatch] x\n\n" + "\n\n".join(
        f"{key}\n  status      {verb} CRIT\n  since       now" for key, verb in events
    )
    m.set_content(body + "\n\n-- tickwatch downtime detector\n")
    return m


def test_events_are_read_from_the_text_body() -> None:
    m = mail(("heartbeat/load", "FIRING"), ("clickhouse_reachable/http://h:1", "RESOLVED"))
    assert emails.events(m) == [
        ("heartbeat/load", "FIRING"),
        ("clickhouse_reachable/http://h:1", "RESOLVED"),
    ]


def test_compare_counts_exactly_once_and_names_duplicates_and_extras() -> None:
    want = [emails.Expected("heartbeat", "FIRING"), emails.Expected("heartbeat", "RESOLVED")]
    got = [("heartbeat/load", "FIRING"), ("heartbeat/load", "FIRING"), ("lag/x", "FIRING")]
    ok, expected, notes = emails.compare(want, got)
    assert (ok, expected) == (0, 2)
    assert notes == [
        "FIRING heartbeat/load: received 2x",
        "RESOLVED heartbeat: received 0x",
        "extra FIRING lag/x x1",
    ]
    per_topic = [("lag/a", "FIRING"), ("lag/b", "FIRING"), ("lag/a", "RESOLVED")]
    lag = [emails.Expected("lag", "FIRING"), emails.Expected("lag", "RESOLVED")]
    assert emails.compare(lag, per_topic) == (2, 2, [])


def test_selection_and_seeds() -> None:
    assert [f.name for f in cli.select([], quick=True)] == list(catalog.QUICK)
    assert [f.name for f in cli.select(["poison,kafka-kill9"], quick=False)] == [
        "poison",
        "kafka-kill9",
    ][:: 1 if catalog.NAMES.index("poison") < catalog.NAMES.index("kafka-kill9") else -1]
    with pytest.raises(SystemExit):
        cli.select(["no-such-fault"], quick=False)
    assert cli.fault_seed(1, "poison") == cli.fault_seed(1, "poison")
    assert cli.fault_seed(1, "poison") != cli.fault_seed(2, "poison")
