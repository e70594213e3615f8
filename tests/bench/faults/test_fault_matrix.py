"""The quick faults of the matrix (issue 12) in ``make test``: the real workers as processes
on the harness's real Kafka and ClickHouse, each fault's own aiosmtpd server.

Only faults that leave the shared broker and server alone run here (``make faults`` runs the
ones that kill or stop them on its own stack). Asserted: nothing lost, nothing duplicated,
every bad input a dead letter with a reason (and not a row), each expected email exactly
once. Nothing about timings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.faults import catalog
from bench.faults.cli import fault_seed
from bench.faults.run import FaultOutcome, execute
from bench.faults.stack import FaultStack
from tickwatch.settings import StackSettings

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.smtp, pytest.mark.slow]

IN_MAKE_TEST = (
    "load-kill9-x10",
    "poison-load-kill9",
    "insert-rejected-kill9",
    "detector-kill9-pending",
)
SEED = 12


def run_fault(name: str, tmp_path: Path, kafka_bootstrap: str, clickhouse_url: str
              ) -> FaultOutcome:  # fmt: skip
    stack = FaultStack(tmp_path / "stack", StackSettings(), kafka_bootstrap=kafka_bootstrap,
                       clickhouse_url=clickhouse_url)  # fmt: skip
    stack.start()
    (fault,) = [f for f in catalog.FAULTS if f.name == name]
    assert not fault.breaks, "a fault that breaks Kafka or ClickHouse must not run here"
    try:
        return execute(stack, fault, fault_seed(SEED, name), tmp_path / "lanes")
    finally:
        stack.stop()


def assert_survived(o: FaultOutcome) -> None:
    assert o.status != "error", f"{o.error}\n{o.notes}"
    assert o.produced > 0 and o.rows > 0, o
    assert o.lost == 0, o.notes
    assert o.duplicates == 0
    assert o.bad_inputs_dead_lettered == o.bad_inputs and o.bad_inputs_landed == 0, o.reasons
    assert "" not in o.reasons
    assert o.emails_once == o.emails_expected, o.email_notes
    assert o.findings() == []


@pytest.mark.parametrize("name", IN_MAKE_TEST)
def test_fault_is_survived(
    name: str, tmp_path: Path, kafka_bootstrap: str, clickhouse_url: str
) -> None:
    outcome = run_fault(name, tmp_path, kafka_bootstrap, clickhouse_url)
    assert_survived(outcome)
    if name.startswith("poison"):
        assert outcome.bad_inputs >= 25
    if name.startswith("insert-rejected"):
        assert any(r.startswith("clickhouse_") for r in outcome.reasons)


def test_the_matrix_has_the_faults_the_issue_asks_for() -> None:
    names = set(catalog.NAMES)
    assert len(names) >= 20
    assert {"load-kill9-x10", "ingest-kill9", "clickhouse-kill9", "clickhouse-hung-30s",
            "kafka-kill9", "rebalance-storm", "insert-rejected", "poison", "smtp-down-60s",
            "detector-sigterm-pending", "detector-kill9-pending", "offset-out-of-range",
            } <= names  # fmt: skip
    assert catalog.LOAD_KILLS >= 10
