"""ClickHouse unreachable: the detector keeps running, emails about it, and the checks that read
ClickHouse report UNKNOWN instead of raising their own alerts. Real scheduler, real SMTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from alerts.mailer import SmtpSender
from monitor.build_checks import build_checks
from monitor.build_detector import build_detector
from monitor.scheduler import build_scheduler
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clients import clickhouse_client
from tickwatch.clock import SystemClock
from tickwatch.settings import (
    ClickHouseSettings,
    MonitorSettings,
    Settings,
    SmtpSettings,
    StackSettings,
)
from tickwatch.telemetry.catalog import MonitorMetrics

from .monitor_fakes import FakeOffsets

pytestmark = pytest.mark.smtp


@dataclass(frozen=True)
class _Endpoints:
    kafka_bootstrap: str
    clickhouse_url: str


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_clickhouse_unreachable_still_sends_email(
    tmp_path: Path, smtp_server: Callable[..., Any]
) -> None:
    server = smtp_server()
    url = f"http://127.0.0.1:{closed_port()}"
    settings = Settings(
        _env_file=None,
        stack=StackSettings(state_dir=tmp_path),
        clickhouse=ClickHouseSettings(url=url, connect_timeout_s=1),
        monitor=MonitorSettings(reachability_interval_s=1, heartbeat_interval_s=1),
    )
    ch = ClickHouseHandle(lambda: clickhouse_client(settings.clickhouse, url))
    clock, registry = SystemClock(), CollectorRegistry()
    sender = SmtpSender(SmtpSettings(host=server.host, port=server.port), server.host, server.port)
    detector = build_detector(settings, ch, sender, MonitorMetrics(registry), clock)
    checks = build_checks(settings, _Endpoints("127.0.0.1:1", url), ch, clock, FakeOffsets("t", 1))
    wanted = {"clickhouse_reachable", "heartbeat", "freshness"}
    scheduler = build_scheduler([c for c in checks if c.name in wanted], detector, clock)
    detector.outbox.start()
    scheduler.start()
    try:
        deadline = time.monotonic() + 60
        while not server.messages():
            assert time.monotonic() < deadline, "no email while ClickHouse is down"
            time.sleep(0.05)
        time.sleep(2)  # a few more check rounds: still only the one alert
    finally:
        scheduler.shutdown(wait=True)
        detector.outbox.stop(2)
    (mail,) = server.messages()
    assert mail["Subject"] == f"[tickwatch] CRIT clickhouse_reachable/{url}"
    unknown = {"check": "heartbeat", "status": "UNKNOWN"}
    assert (registry.get_sample_value("tickwatch_monitor_check_runs_total", unknown) or 0) >= 2
    assert detector.book.get("heartbeat/*") is not None
    assert [s.key for s in detector.book.open_alerts()] == [f"clickhouse_reachable/{url}"]
