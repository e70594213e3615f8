"""``tickwatch monitor``: run the downtime detector until SIGTERM / SIGINT.

Order of operations: logging → endpoints → /metrics + /healthz → one Kafka login (refused
credentials or an untrusted certificate stop here, naming the setting; a broker that is down does
not) → build (no connection yet, so the detector starts even while Kafka, ClickHouse or SMTP are
down — and then alerts about it) → restore the previous run's open alerts, held events and unsent
email → start the outbox thread → start the scheduler → serve the status page and API
(``status.enabled``) → wait for a signal → stop the status server → stop the scheduler (waits for
running checks) → final dispatch (the pending group goes to the outbox without waiting for its
group wait) → flush (state snapshot, results, alert history) → give pending email a few seconds →
flush again, so what is still unsent (or held by the rate limit) is in the snapshot for the next
run.

``/healthz`` is 200 only while both the scheduler and the outbox's delivery thread run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from loguru import logger

from alerts.errors import AlertError
from alerts.mailer import SmtpSender
from monitor.build_checks import build_checks
from monitor.build_detector import build_detector
from monitor.detector import Detector
from monitor.errors import MonitorError
from monitor.scheduler import build_scheduler
from monitor.status import CheckBoard, StatusView, build_view, observed, start_status
from tickwatch.chhandle import ClickHouseHandle, bounded_factory
from tickwatch.clock import SystemClock
from tickwatch.kafka_access import KafkaSecurityError, KafkaUnreachableError, verify_kafka_access
from tickwatch.settings import Settings
from tickwatch.telemetry import Telemetry, configure_logging
from tickwatch.types import ExpectedSymbol

if TYPE_CHECKING:
    from monitor.status.server import StatusServer
    from tickwatch.endpoints import Endpoints, LocalAddresses

DRAIN_S = 5.0
KAFKA_CHECK_TIMEOUT_S = 5.0
EXIT_CONFIG = 2


def run_monitor(
    settings: Settings,
    local: LocalAddresses | None = None,
    expected: Sequence[ExpectedSymbol] = (),
) -> int:
    """Run the detector in the foreground; 0 on a clean stop, 2 on a configuration error.

    ``local`` is the local stack's addresses, used where the settings leave one empty;
    ``expected`` the symbols the configured source should deliver (the composition root reads
    them from the source's configuration: the detector never imports the pipeline).
    """
    from tickwatch.endpoints import EndpointError, resolve_endpoints

    configure_logging("monitor", settings.telemetry)
    try:
        ep = resolve_endpoints(settings, require=("kafka", "clickhouse", "smtp"), local=local)
        reader = settings.clickhouse.as_role("monitor")
        timeout_s = settings.monitor.check_timeout_s
        ch = ClickHouseHandle(bounded_factory(reader, ep.clickhouse_url, timeout_s))
        clock = SystemClock()
        sender = SmtpSender(settings.smtp, ep.smtp_host, ep.smtp_port, ca_cert=ep.smtp_ca_cert)
        telemetry = Telemetry.start("monitor", settings, ep.clickhouse_url)
    except (MonitorError, AlertError, EndpointError, OSError) as exc:
        logger.error("monitor cannot start: {}", exc)
        return EXIT_CONFIG
    try:
        return _run(
            settings, ep=ep, ch=ch, sender=sender, telemetry=telemetry, clock=clock,
            expected=expected,
        )  # fmt: skip
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
    expected: Sequence[ExpectedSymbol],
) -> int:
    try:  # wrong Kafka credentials are configuration: stop; a broker that is down is alerted on
        verify_kafka_access(settings.kafka, ep.kafka_bootstrap, KAFKA_CHECK_TIMEOUT_S)
    except KafkaSecurityError as exc:
        logger.error("monitor cannot start: {}", exc)
        return EXIT_CONFIG
    except KafkaUnreachableError as exc:
        logger.warning("monitor starting while Kafka is unreachable: {}", exc)
    board = CheckBoard(clock)
    try:
        detector = build_detector(settings, ch, sender, telemetry.monitor_metrics, clock)
        checks = observed(build_checks(settings, ep, ch, clock, symbols=expected), board)
        view = build_view(settings, detector, board, ch, clock)
    except (MonitorError, AlertError) as exc:
        logger.error("monitor cannot start: {}", exc)
        return EXIT_CONFIG
    scheduler = build_scheduler(checks, detector, clock)
    telemetry.set_health(lambda: healthy(scheduler, detector))
    stop = _stop_event()
    restored = detector.restore()
    detector.outbox.start()
    scheduler.start()
    status = _start_status(settings, view, clock)
    logger.info("monitor running: {} checks, {} open alerts restored, metrics on {}, status "
                "page on {}", len(checks), restored, telemetry.url,
                status.url if status else "(disabled)")  # fmt: skip
    try:
        stop.wait()
    finally:
        if status is not None:
            status.close()
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


def _start_status(settings: Settings, view: StatusView, clock: SystemClock) -> StatusServer | None:
    """The status page and API, or None when disabled or its port is taken (logged: the
    detector's alerting matters more than its page)."""
    if not settings.status.enabled:
        return None
    try:
        return start_status(settings, view, clock)
    except OSError as exc:
        logger.error("status page not served: {}", exc)
        return None


def _stop_event() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal {} received, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
