"""Scenario 6: detection time — how long after the load worker stops the alert email arrives.

A live pipeline (simulator ingest at ``detection_rate`` ticks/s → Kafka → one load worker →
ClickHouse) runs with the real monitor (default settings) sending mail to a local SMTP server
(the stack's :class:`~tickwatch.stack.mailserver.MailServer`, in this process). After a settle
period the load worker gets SIGTERM; the figure is the time until a new message is in the
mailbox. Messages that arrived before the stop (start-up alerts) do not count.
"""

from __future__ import annotations

import importlib
import signal
import time
from contextlib import ExitStack
from pathlib import Path

from bench import goals
from bench.context import BenchContext
from bench.deadline import Deadline
from bench.figures import Figure, not_measured
from bench.live import ingest_worker, start_load
from bench.topics import TopicSet
from bench.warehouse import BenchDatabases
from bench.worker import WorkerProcess
from tickwatch.stack import mailbox
from tickwatch.stack.mailserver import MailServer

NAME = "detection"
FIGURE = "load worker stopped → alert email"
POLL_S = 0.1


def monitor_available() -> str:
    """Empty when ``monitor.cli.run_monitor`` imports, else why it does not."""
    try:
        module = importlib.import_module("monitor.cli")
    except Exception as exc:  # any import failure means the same: nothing to measure
        return f"{type(exc).__name__}: {exc}"
    return "" if hasattr(module, "run_monitor") else "monitor.cli has no run_monitor"


def run(ctx: BenchContext, deadline: Deadline) -> list[Figure]:
    """Seconds from SIGTERM to the load worker until the first new alert email."""
    missing = monitor_available()
    if missing:
        return [not_measured(NAME, FIGURE, f"monitor not available ({missing})")]
    topics = ctx.topics("detection")
    databases = ctx.warehouse.fresh(ctx.name("detection"))
    mail = MailServer(ctx.services.state_dir / "mail")
    mail.start()
    try:
        seconds, subject = _measure(ctx, topics, databases, mail, deadline)
    finally:
        mail.stop()
        ctx.warehouse.drop(databases)
    return [Figure(NAME, FIGURE, seconds, "s", goals.DETECTION_S, note=f"mail: {subject[:90]}")]


def _measure(
    ctx: BenchContext,
    topics: TopicSet,
    databases: BenchDatabases,
    mail: MailServer,
    deadline: Deadline,
) -> tuple[float, str]:
    smtp = {"TICKWATCH_SMTP_HOST": mail.host, "TICKWATCH_SMTP_PORT": str(mail.port)}
    group = ctx.name("detection-load")
    with ExitStack() as running:
        load = start_load(ctx, "detection-load", topics, databases, deadline)
        running.callback(load.stop)
        rate = ctx.options.detection_rate
        ingest = ingest_worker(
            ctx, "detection-ingest", topics=topics, databases=databases, rate=rate, duration_s=0.0
        )
        running.enter_context(ingest)
        monitor = ctx.worker(
            "monitor",
            "detection-monitor",
            topics=topics,
            databases=databases,
            extra=smtp,
            group=group,
        )
        running.enter_context(monitor)
        _settle(ctx.options.detection_settle_s, (load, ingest, monitor), deadline)
        before = len(mailbox.message_files(mail.mail_dir))
        stopped_at = time.monotonic()
        load.stop(signal.SIGTERM)
        path = _first_new_message(mail.mail_dir, before, monitor, deadline)
        seconds = time.monotonic() - stopped_at
    subject = " ".join(str(mailbox.parse(path).get("Subject", "")).split())
    return seconds, subject


def _settle(seconds: float, workers: tuple[WorkerProcess, ...], deadline: Deadline) -> None:
    """Let the pipeline run ``seconds`` so the monitor sees it healthy; fail if a worker died."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for worker in workers:
            worker.ensure_running()
        deadline.sleep(0.5, "letting the pipeline settle before the stop")


def _first_new_message(
    mail_dir: Path, before: int, monitor: WorkerProcess, deadline: Deadline
) -> Path:
    """The first message file stored after the first ``before`` ones; waits for it."""
    while True:
        files = mailbox.message_files(mail_dir)
        if len(files) > before:
            return files[before]
        monitor.ensure_running()
        deadline.sleep(POLL_S, "waiting for the alert email")
