"""``tickwatch monitor``: run the downtime detector until SIGTERM / SIGINT.

Order of operations: logging → endpoints → /metrics + /healthz → build (no connection yet, so
the detector starts even while Kafka, ClickHouse or SMTP are down — and then alerts about it) →
restore the previous run's open alerts and unsent email → start the outbox thread → start the
scheduler → wait for a signal → stop the scheduler (waits for running checks) → flush (state
snapshot, results, alert history) → give pending email a few seconds → flush again, so what is
still unsent is in the snapshot for the next run.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

from loguru import logger

from alerts.errors import AlertError
from alerts.mailer import SmtpSender
from monitor.build_checks import build_checks
from monitor.build_detector import build_detector
from monitor.errors import MonitorError
from monitor.scheduler import build_scheduler
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clients import clickhouse_client
from tickwatch.clock import SystemClock
from tickwatch.settings import Settings
from tickwatch.telemetry import Telemetry, configure_logging

if TYPE_CHECKING:
    from tickwatch.endpoints import Endpoints, LocalAddresses

DRAIN_S = 5.0
EXIT_CONFIG = 2


def run_monitor(settings: Settings, local: LocalAddresses | None = None) -> int:
    """Run the detector in the foreground; 0 on a clean stop, 2 on a configuration error.

    ``local`` is the local stack's addresses, used where the settings leave one empty.
    """
    from tickwatch.endpoints import EndpointError, resolve_endpoints

    configure_logging("monitor", settings.telemetry)
    try:
        ep = resolve_endpoints(settings, require=("kafka", "clickhouse", "smtp"), local=local)
        ch = ClickHouseHandle(lambda: clickhouse_client(settings.clickhouse, ep.clickhouse_url))
        clock = SystemClock()
        sender = SmtpSender(settings.smtp, ep.smtp_host, ep.smtp_port, ca_cert=ep.smtp_ca_cert)
        telemetry = Telemetry.start("monitor", settings, ep.clickhouse_url)
    except (MonitorError, AlertError, EndpointError, OSError) as exc:
        logger.error("monitor cannot start: {}", exc)
        return EXIT_CONFIG
    try:
        return _run(settings, ep=ep, ch=ch, sender=sender, telemetry=telemetry, clock=clock)
    finally:
        telemetry.close()


def _run(
    settings: Settings,
    *,
    ep: Endpoints,
    ch: ClickHouseHandle,
    sender: SmtpSender,
    telemetry: Telemetry,
    clock: SystemClock,
) -> int:
    try:
        detector = build_detector(settings, ch, sender, telemetry.monitor_metrics, clock)
        checks = build_checks(settings, ep, ch, clock)
    except (MonitorError, AlertError) as exc:
        logger.error("monitor cannot start: {}", exc)
        return EXIT_CONFIG
    scheduler = build_scheduler(checks, detector, clock)
    telemetry.set_health(lambda: bool(scheduler.running))
    stop = _stop_event()
    restored = detector.restore()
    detector.outbox.start()
    scheduler.start()
    logger.info("monitor running: {} checks, {} open alerts restored, metrics on {}",
                len(checks), restored, telemetry.url)  # fmt: skip
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        detector.flush()
        detector.outbox.stop(DRAIN_S)
        detector.flush()
    logger.info("monitor stopped")
    return 0


def _stop_event() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal {} received, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
