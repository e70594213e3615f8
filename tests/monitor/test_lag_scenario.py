"""A real consumer group on the real Kafka stops committing: exactly one stall email arrives
(and how long it took is printed); commits resume: exactly one resolved email.

The detector runs with its default intervals and thresholds (APScheduler, wall clock); only the
consumer-lag and broker checks are scheduled, so no other alert (heartbeats of workers that are
not running here) can add mail. Alert history goes to the test's real ClickHouse databases.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from prometheus_client import CollectorRegistry

from alerts.mailer import SmtpSender
from monitor.build_checks import build_checks
from monitor.build_detector import build_detector
from monitor.scheduler import build_scheduler
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clients import clickhouse_client
from tickwatch.clock import SystemClock
from tickwatch.settings import Settings, SmtpSettings
from tickwatch.telemetry.catalog import MonitorMetrics

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.smtp, pytest.mark.slow]


@dataclass
class Workload:
    """A producer writing steadily and a group member that commits while ``committing``."""

    settings: Settings
    committing: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    commits: int = 0

    def produce(self) -> None:
        k = self.settings.kafka
        producer = Producer(k.client_config(k.bootstrap) | {"linger.ms": 5})
        i = 0
        while not self.stop.is_set():
            producer.produce(k.topic_trades, key=f"SYM{i % 7}", value=b"{}")
            producer.poll(0)
            i += 1
            time.sleep(0.02)
        producer.flush(5)

    def consume(self) -> None:
        k = self.settings.kafka
        consumer = Consumer(k.client_config(k.bootstrap) | {
            "group.id": k.consumer_group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        })  # fmt: skip
        consumer.subscribe([k.topic_trades])
        while not self.stop.is_set():
            messages = consumer.consume(num_messages=500, timeout=0.1)
            if messages and self.committing.is_set():
                consumer.commit(asynchronous=False)
                self.commits += 1
        consumer.close()


@pytest.fixture
def workload(settings: Settings) -> Iterator[Workload]:
    w = Workload(settings)
    w.committing.set()
    threads = [threading.Thread(target=f, daemon=True) for f in (w.produce, w.consume)]
    for t in threads:
        t.start()
    yield w
    w.stop.set()
    for t in threads:
        t.join(10)


def first_time(predicate: Callable[[], bool], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
    return time.time()


def test_stalled_consumer_one_email_then_one_resolved(
    settings: Settings, workload: Workload, smtp_server: Callable[..., Any]
) -> None:
    server = smtp_server()
    smtp = SmtpSettings(host=server.host, port=server.port)
    url = settings.clickhouse.url
    ch = ClickHouseHandle(lambda: clickhouse_client(settings.clickhouse, url))
    clock, registry = SystemClock(), CollectorRegistry()
    detector = build_detector(
        settings, ch, SmtpSender(smtp, server.host, server.port), MonitorMetrics(registry), clock
    )
    endpoints = _Endpoints(settings.kafka.bootstrap, url)
    checks = [c for c in build_checks(settings, endpoints, ch, clock)
              if c.name in {"consumer_lag", "kafka_reachable"}]  # fmt: skip
    scheduler = build_scheduler(checks, detector, clock)
    first_time(lambda: workload.commits > 20, 60)
    detector.outbox.start()
    scheduler.start()
    try:
        # warm up: a full lag window of healthy samples
        time.sleep(settings.monitor.lag_interval_s * (settings.monitor.lag_window + 1))
        assert server.messages() == []
        workload.committing.clear()
        stopped_at = time.time()
        arrived = first_time(lambda: len(server.messages()) == 1, 60)
        print(f"\nDETECTION: commits stopped -> email in mailbox: {arrived - stopped_at:.1f} s")
        (mail,) = server.messages()
        assert "CRIT consumer_lag" in mail["Subject"]
        body = mail.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert "stalled" in text and settings.kafka.topic_trades in text
        workload.committing.set()
        first_time(lambda: len(server.messages()) == 2, 60)
        assert "RESOLVED consumer_lag" in server.messages()[1]["Subject"]
        time.sleep(settings.monitor.lag_interval_s * 3)  # nothing else follows
        assert len(server.messages()) == 2
    finally:
        scheduler.shutdown(wait=True)
        detector.outbox.stop(2)
        detector.flush()
    client = clickhouse_client(settings.clickhouse, url)
    ops = settings.clickhouse.ops_database
    events = client.query(
        f"SELECT event FROM {ops}.alert_events WHERE check = 'consumer_lag' ORDER BY time"
    ).result_rows
    assert [e for (e,) in events] == ["open", "resolve"]
    sent = client.query(f"SELECT count() FROM {ops}.notifications WHERE status = 'sent'")
    assert sent.result_rows[0][0] == 2


@dataclass(frozen=True)
class _Endpoints:
    kafka_bootstrap: str
    clickhouse_url: str
