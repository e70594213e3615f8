"""A hung ClickHouse (accepts connections, never answers) on the real Kafka and ClickHouse.

Issue 12, finding 4: one ``flush_ready`` used to block for many 30 s timeouts, far past
``max.poll.interval.ms``, and the member was thrown out of its group again and again. Now every
insert has the load worker's own timeouts and one poll loop stops inserting at
``flush_budget_s``: the hang outlasts ``max_poll_interval_ms`` and the worker keeps its
partitions (no revocation), counts the retries, and loads everything exactly once afterwards.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlparse

import pytest
from loguru import logger
from prometheus_client import CollectorRegistry

from pipeline.load_cli import build_worker
from tests.hung_server import HangingProxy
from tests.pipeline.test_load_pipeline import assert_exactly_once, count, produce, trades, wait_for
from tickwatch.clients import clickhouse_client
from tickwatch.settings import LoadSettings, Settings
from tickwatch.telemetry.catalog import LoadMetrics

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

MAX_POLL_INTERVAL_MS = 45_000
HANG_S = 50.0  # longer than max.poll.interval.ms


def test_hung_clickhouse_bounds_every_poll_loop_and_keeps_the_group(
    settings: Settings, kafka_bootstrap: str
) -> None:
    target = urlparse(settings.clickhouse.url).port
    proxy = HangingProxy(target)
    ch = settings.clickhouse.model_copy(update={"url": proxy.url})
    load = LoadSettings(
        batch_max_rows=500,
        batch_max_ms=100,
        retry_initial_s=0.2,
        retry_max_s=1.0,
        insert_timeout_s=2.0,
        flush_budget_s=1.0,
        kafka_timeout_s=1.5,  # keeps poll_loop_bound_s below the interval (4 Kafka waits)
        max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        session_timeout_ms=10_000,
    )
    settings = settings.model_copy(update={"clickhouse": ch, "load": load})
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO")
    registry = CollectorRegistry()
    client = clickhouse_client(ch, proxy.url, timeout_s=load.insert_timeout_s)
    worker = build_worker(settings, kafka_bootstrap, client, LoadMetrics(registry))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, 20.0), daemon=True)
    direct = clickhouse_client(
        ch.model_copy(update={"url": f"http://127.0.0.1:{target}"}),
        f"http://127.0.0.1:{target}",
        database=ch.market_database,
    )
    try:
        topic = settings.kafka.topic_trades
        produce(kafka_bootstrap, topic, trades(3000))
        thread.start()
        wait_for(lambda: count(direct, "SELECT count() FROM trades") >= 1000, "first rows")
        proxy.hung.set()
        produce(kafka_bootstrap, topic, trades(3000, start=3000))
        time.sleep(HANG_S)  # the hang; polling must go on within max.poll.interval.ms
        during = [line for line in lines if "revoked" in line or "lost" in line]
        retries = registry.get_sample_value("tickwatch_load_clickhouse_retries_total") or 0
        proxy.hung.clear()
        wait_for(lambda: count(direct, "SELECT count() FROM trades") >= 6000, "all rows")
        stop.set()
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert during == [], during  # never thrown out of the group
        assert retries > 0  # the hung inserts timed out, were counted and retried
        assert_exactly_once(direct, 6000)
    finally:
        stop.set()
        logger.remove(sink)
        proxy.close()
        direct.close()
