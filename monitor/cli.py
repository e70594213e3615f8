"""``tickwatch monitor``: run the downtime detector until SIGTERM / SIGINT.

Order of operations: logging → endpoints → /metrics + /healthz → build (no connection yet, so
the detector starts even while Kafka, ClickHouse or SMTP are down — and then alerts about it) →
restore the previous run's open alerts, held events and unsent email → start the outbox thread →
start the scheduler → wait for a signal → stop the scheduler (waits for running checks) → final
dispatch (the pending group goes to the outbox without waiting for its group wait) → flush
(state snapshot, results, alert history) → give pending email a few seconds → flush again, so
what is still unsent (or held by the rate limit) is in the snapshot for the next run.

``/healthz`` is 200 only while both the scheduler and the outbox's delivery thread run.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

from loguru import logger

from alerts.errors import AlertError
from alerts.mailer import SmtpSender
from monitor.assembly import build_detector
from monitor.build import build_checks
from monitor.chconn import ClickHouseHandle, bounded_factory
from monitor.detector import Detector
from monitor.errors import MonitorError
from monitor.scheduler import build_scheduler
from tickwatch.clock import SystemClock
from tickwatch.settings import Settings
from tickwatch.telemetry import Telemetry, configure_logging

if TYPE_CHECKING:
    from tickwatch.endpoints import Endpoints

DRAIN_S = 5.0
EXIT_CONFIG = 2


def run_monitor(settings: Settings) -> int:
    """Run the detector in the foreground; 0 on a clean stop, 2 on a configuration error."""
    from tickwatch.endpoints import EndpointError, resolve_endpoints

    configure_logging("monitor", settings.telemetry)
    try:
        ep = resolve_endpoints(settings, require=("kafka", "clickhouse", "smtp"))
        timeout_s = settings.monitor.check_timeout_s
        ch = ClickHouseHandle(bounded_factory(settings.clickhouse, ep.clickhouse_url, timeout_s))
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
    telemetry.set_health(lambda: healthy(scheduler, detector))
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
        detector.final_dispatch()
        detector.flush()
        detector.outbox.stop(DRAIN_S)
        detector.flush()
    logger.info("monitor stopped")
    return 0


def healthy(scheduler: Any, detector: Detector) -> bool:
    """The scheduler runs its jobs and the outbox thread delivers (what ``/healthz`` reports)."""
    ok = bool(scheduler.running) and detector.outbox.alive
    if not ok:
        logger.error("monitor unhealthy: scheduler running={}, outbox thread alive={}",
                     bool(scheduler.running), detector.outbox.alive)  # fmt: skip
    return ok


def _stop_event() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal {} received, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
