"""Build the health checks the settings ask for.

Nothing here connects at build time: ClickHouse and Kafka clients are created on first use, so
the detector starts (and alerts about them) while they are down.
"""

from __future__ import annotations

from typing import Any, Protocol

from monitor.chconn import ClickHouseHandle
from monitor.checks.base import Check
from monitor.checks.freshness import FreshnessCheck
from monitor.checks.heartbeats import HeartbeatCheck
from monitor.checks.lag import ConsumerLagCheck
from monitor.checks.offset_resets import OffsetResetCheck
from monitor.checks.pipeline_rates import DeadLetterRateCheck, LatencyCheck
from monitor.checks.probes import ProbeCheck, parse_probe_urls
from monitor.checks.reachability import ClickHouseReachableCheck, KafkaReachableCheck
from monitor.kafka_offsets import KafkaOffsets, OffsetSource
from monitor.market_hours import MarketHours
from pipeline.topics import record_topics
from tickwatch.clock import WallClock
from tickwatch.settings import Settings


class Endpoints(Protocol):
    """What the checks need of ``tickwatch.endpoints.Endpoints``."""

    @property
    def kafka_bootstrap(self) -> str: ...

    @property
    def clickhouse_url(self) -> str: ...


def build_checks(
    settings: Settings,
    endpoints: Endpoints,
    ch: ClickHouseHandle,
    clock: WallClock,
    offsets: OffsetSource | None = None,
) -> list[Check]:
    """Every check the settings ask for. Raises MonitorConfigError on a bad setting."""
    m, k = settings.monitor, settings.kafka
    conf: dict[str, Any] = k.client_config(endpoints.kafka_bootstrap)
    source = offsets or KafkaOffsets(conf, m.check_timeout_s)
    topics = list(record_topics(k).values())
    expected = [s.strip() for s in m.expected_services.split(",") if s.strip()]
    market, ops = settings.clickhouse.market_database, settings.clickhouse.ops_database
    checks: list[Check] = [
        KafkaReachableCheck(
            lambda: _admin(conf),
            endpoints.kafka_bootstrap,
            timeout_s=m.check_timeout_s,
            interval_s=m.reachability_interval_s,
            clock=clock,
        ),
        ClickHouseReachableCheck(
            ch, endpoints.clickhouse_url, interval_s=m.reachability_interval_s, clock=clock
        ),
        ConsumerLagCheck(
            source,
            k.consumer_group,
            topics,
            window=m.lag_window,
            warn_s=m.lag_warn_seconds,
            crit_s=m.lag_crit_seconds,
            interval_s=m.lag_interval_s,
            clock=clock,
        ),
        FreshnessCheck(
            ch,
            market,
            MarketHours(m.equity_calendar),
            warn_s=m.freshness_warn_s,
            crit_s=m.freshness_crit_s,
            interval_s=m.freshness_interval_s,
            clock=clock,
        ),
        HeartbeatCheck(
            ch,
            ops,
            expected,
            timeout_s=m.heartbeat_timeout_s,
            interval_s=m.heartbeat_interval_s,
            clock=clock,
        ),
        LatencyCheck(
            ch,
            market,
            threshold_s=m.latency_p99_threshold_s,
            interval_s=m.latency_interval_s,
            clock=clock,
        ),
        DeadLetterRateCheck(
            ch, ops, threshold=m.dlq_rate_threshold, interval_s=m.dlq_interval_s, clock=clock
        ),
        OffsetResetCheck(
            ch,
            ops,
            window_s=m.offset_reset_window_s,
            interval_s=m.offset_reset_interval_s,
            clock=clock,
        ),
    ]
    if urls := parse_probe_urls(m.probe_urls):
        checks.append(
            ProbeCheck(
                urls, timeout_s=m.check_timeout_s, interval_s=m.probe_interval_s, clock=clock
            )
        )
    return checks


def _admin(conf: dict[str, Any]) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient(conf)
