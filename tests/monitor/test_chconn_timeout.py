"""The monitor's ClickHouse calls honour ``monitor.check_timeout_s``, and a hung ClickHouse
is alerted and so is its recovery (issue 12, finding 4 and the ``clickhouse-hung-30s`` fault)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import pytest

from monitor.checks.base import Check, dependencies, run_check
from monitor.checks.heartbeats import HeartbeatCheck
from monitor.checks.pipeline_rates import DeadLetterRateCheck
from monitor.checks.reachability import ClickHouseReachableCheck
from tests.alerts.alert_helpers import wait_until
from tests.alerts.detector_scenarios import Mailbox, make_detector, sigterm
from tests.hung_server import HangingProxy
from tickwatch.chhandle import ClickHouseHandle, bounded_factory
from tickwatch.clock import ManualClock
from tickwatch.errors import ServiceUnavailable
from tickwatch.settings import ClickHouseSettings
from tickwatch.types import Status

ROUNDS_BACK = 6  # rounds after the hang ends: the checks that were blocked answer again


def test_a_hung_clickhouse_fails_the_call_with_the_checks_timeout() -> None:
    hung = HangingProxy(target_port=None)  # accepts, never answers
    try:
        settings = ClickHouseSettings(send_receive_timeout_s=30.0)
        handle = ClickHouseHandle(bounded_factory(settings, hung.url, timeout_s=1.0))
        with pytest.raises(ServiceUnavailable) as caught:
            handle.command("SELECT 1")
        assert "read timeout=1" in str(caught.value)  # the check's 1 s, not the default 30 s
    finally:
        hung.close()


def test_the_factory_gives_clients_the_checks_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    import clickhouse_connect

    seen: dict[str, object] = {}

    def get_client(**kwargs: object) -> object:
        seen.update(kwargs)
        return object()

    monkeypatch.setattr(clickhouse_connect, "get_client", get_client)
    factory = bounded_factory(ClickHouseSettings(), "http://127.0.0.1:9", timeout_s=2.5)
    factory()
    assert (seen["connect_timeout"], seen["send_receive_timeout"]) == (3, 3)
    assert seen["query_retries"] == 0


@pytest.mark.clickhouse
def test_checks_sharing_a_handle_report_a_hung_clickhouse_and_its_recovery(
    tmp_path: Path, ch_settings: ClickHouseSettings
) -> None:
    """The ``clickhouse-hung-30s`` fault on a real ClickHouse behind a proxy that hangs: the
    reachability check and the checks reading ClickHouse share one bounded handle and run at
    the same time, as the scheduler runs them; the hang is alerted, and once the server answers
    again the checks that were blocked on it report the recovery, and the RESOLVED is emailed."""
    proxy = HangingProxy(urlparse(ch_settings.url).port)
    handle = ClickHouseHandle(bounded_factory(ch_settings, proxy.url, timeout_s=1.0))
    clock, box = ManualClock(time.time()), Mailbox()
    d, _ = make_detector(tmp_path, box, clock, inhibit_grace_s=2)
    ops = ch_settings.ops_database
    checks: list[Check] = [
        ClickHouseReachableCheck(handle, proxy.url, interval_s=1, clock=clock),
        HeartbeatCheck(handle, ops, [], timeout_s=3600, interval_s=1, clock=clock),
        DeadLetterRateCheck(handle, ops, threshold=1e6, interval_s=1, clock=clock),
    ]
    d.inhibitor.declare(dependencies(checks))

    def round_() -> Status:
        """All checks at once, in threads; the reachability check's status."""
        clock.advance(1)
        with ThreadPoolExecutor(len(checks)) as pool:
            batches = list(pool.map(lambda c: run_check(c, clock), checks))
        for results in batches:
            d.on_results(results)
        d.dispatch()
        return batches[0][0].status

    d.outbox.start()
    try:
        assert [round_() for _ in range(2)] == [Status.OK] * 2
        proxy.hung.set()
        hung = [round_() for _ in range(4)]
        proxy.hung.clear()
        back = [round_() for _ in range(ROUNDS_BACK)]
        for _ in range(4):  # past the grace period
            round_()
        wait_until(lambda: d.outbox.pending == 0 and len(box.sent) >= 2)
    finally:
        sigterm(d)
        proxy.close()
    assert hung == [Status.CRIT] * 4
    assert back[-2:] == [Status.OK] * 2, back  # recovered, and stays so
    key = f"clickhouse_reachable/{proxy.url}"
    assert [n.alert_keys for n in box.sent] == [(key,), (key,)]
    assert box.sent[1].subject == f"[tickwatch] RESOLVED {key}"
    assert d.book.open_alerts() == []
