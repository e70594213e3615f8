"""Assemble the detector from settings: alert state, notifier, outbox, writers.

Nothing here connects at build time: ClickHouse is reached on first use, so the detector starts
(and alerts about it) while it is down.
"""

from __future__ import annotations

from typing import Any

from alerts import snapshot
from alerts.book import AlertBook
from alerts.inhibition import Inhibitor
from alerts.journal import Journal
from alerts.muting import Muting
from alerts.notifier import Notifier, NotifyPolicy
from alerts.outbox import Outbox, Sender
from alerts.render import render
from alerts.silence_store import SilenceStore
from alerts.silences import parse_silences
from alerts.state import AlertPolicy
from alerts.windows import parse_windows
from monitor.detector import Detector
from monitor.errors import MonitorConfigError
from tickwatch.buffer import BufferedWriter
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import Clock
from tickwatch.settings import Settings
from tickwatch.telemetry.catalog import MonitorMetrics
from tickwatch.types import HEALTH_COLUMNS

MAINTENANCE_FILE = "maintenance.json"  # one-off windows opened through the status API


def build_detector(
    settings: Settings,
    ch: ClickHouseHandle,
    sender: Sender,
    metrics: MonitorMetrics,
    clock: Clock,
) -> Detector:
    """Alert state, notifier, outbox and writers wired into one :class:`Detector`.

    Raises MonitorConfigError on inconsistent alert settings."""
    a, s = settings.alerts, settings.smtp
    if a.flap_stop_changes >= a.flap_start_changes:
        raise MonitorConfigError(
            "TICKWATCH_ALERTS_FLAP_STOP_CHANGES must be below TICKWATCH_ALERTS_FLAP_START_CHANGES "
            f"({a.flap_stop_changes} >= {a.flap_start_changes}): flapping would never end"
        )
    ops = settings.clickhouse.ops_database
    journal = Journal(ch, ops, settings.monitor.results_buffer_max)
    muting = Muting(
        parse_silences(a.silences),
        parse_windows(a.maintenance_windows),
        SilenceStore(settings.stack.state_dir),
        SilenceStore(settings.stack.state_dir, MAINTENANCE_FILE),
    )

    def on_muted(event: Any, reason: str) -> None:
        note = render([event], a.grafana_url, clock.time())
        journal.notification(
            clock.time(), note, s.recipient_list, status="suppressed", attempt=0, error=reason
        )
        metrics.notification("suppressed")

    notifier = Notifier(
        NotifyPolicy(a.repeat_interval_s, a.group_wait_s, a.max_emails_per_hour),
        muting,
        clock,
        on_muted,
    )
    outbox = Outbox(
        sender,
        journal,
        s.recipient_list,
        max_items=a.outbox_max,
        retry_initial_s=s.retry_initial_s,
        retry_max_s=s.retry_max_s,
        clock=clock,
        metrics=metrics,
    )
    health = BufferedWriter(
        ch, f"{ops}.health_checks", HEALTH_COLUMNS, max_rows=settings.monitor.results_buffer_max
    )
    book = AlertBook(
        AlertPolicy(
            a.open_after, a.resolve_after, a.flap_window, a.flap_threshold, a.stale_after_s,
            a.flap_window_s, a.flap_start_changes, a.flap_stop_changes,
        )
    )  # fmt: skip
    return Detector(
        book,
        notifier,
        outbox,
        health=health,
        journal=journal,
        metrics=metrics,
        clock=clock,
        grafana_url=a.grafana_url,
        snapshot_path=settings.stack.state_dir / snapshot.FILE_NAME,
        inhibitor=Inhibitor(a.inhibit_grace_s),
    )
