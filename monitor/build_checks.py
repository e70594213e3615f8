"""Build the health checks the settings ask for.

Nothing here connects at build time: ClickHouse and Kafka clients are created on first use, so
the detector starts (and alerts about them) while they are down.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from monitor.checks.archive import ArchiveCheck
from monitor.checks.base import Check
from monitor.checks.freshness import FreshnessCheck
from monitor.checks.freshness_grade import Limits
from monitor.checks.heartbeats import HeartbeatCheck
from monitor.checks.kafka_partitions import OfflinePartitionsCheck, UnderReplicatedCheck
from monitor.checks.lag import ConsumerLagCheck
from monitor.checks.offset_resets import OffsetResetCheck
from monitor.checks.pipeline_rates import DeadLetterRateCheck, LatencyCheck
from monitor.checks.probes import ProbeCheck, parse_probe_urls
from monitor.checks.reachability import ClickHouseReachableCheck, KafkaReachableCheck
from monitor.errors import MonitorConfigError
from monitor.kafka_offsets import KafkaOffsets, OffsetSource
from tickwatch.chhandle import ClickHouseHandle
from tickwatch.clock import WallClock
from tickwatch.market_hours import CalendarNameError, TradingHours, from_settings
from tickwatch.settings import Settings
from tickwatch.topics import pipeline_topics, record_topic_names
from tickwatch.types import ExpectedSymbol


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
    *,
    symbols: Sequence[ExpectedSymbol] = (),
) -> list[Check]:
    """Every check the settings ask for; ``symbols`` = the symbols the configured source
    should deliver (``pipeline.sources.expected``). Raises MonitorConfigError on a bad setting."""
    m, k = settings.monitor, settings.kafka
    conf: dict[str, Any] = k.client_config(endpoints.kafka_bootstrap)
    source = offsets or KafkaOffsets(conf, m.check_timeout_s)
    topics = list(record_topic_names(k).values())
    expected = [s.strip() for s in m.expected_services.split(",") if s.strip()]
    market, ops = settings.clickhouse.market_database, settings.clickhouse.ops_database
    admin = SharedAdmin(conf)
    checks: list[Check] = [
        KafkaReachableCheck(
            admin,
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
        build_freshness(settings, ch, clock, symbols),
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
    if settings.archive.check_enabled:
        a = settings.archive
        checks.append(
            ArchiveCheck(
                ch,
                market,
                ops,
                due_hour_utc=a.check_hour_utc,
                interval_s=a.check_interval_s,
                clock=clock,
            )
        )
    partition_checks = (UnderReplicatedCheck, OfflinePartitionsCheck)
    checks += [
        kind(
            admin,
            endpoints.kafka_bootstrap,
            pipeline_topics(k),
            timeout_s=m.check_timeout_s,
            interval_s=m.reachability_interval_s,
            clock=clock,
        )
        for kind in partition_checks
    ]
    if urls := parse_probe_urls(m.probe_urls):
        checks.append(
            ProbeCheck(
                urls, timeout_s=m.check_timeout_s, interval_s=m.probe_interval_s, clock=clock
            )
        )
    return checks


def build_freshness(
    settings: Settings,
    ch: ClickHouseHandle,
    clock: WallClock,
    expected: Sequence[ExpectedSymbol] = (),
) -> FreshnessCheck:
    """The freshness check of ``settings`` watching ``expected`` (plus every symbol that has
    delivered); raises MonitorConfigError on a bad setting."""
    m = settings.monitor
    limits = Limits(
        warn_s=m.freshness_warn_s,
        crit_s=m.freshness_crit_s,
        warn_gaps=m.freshness_warn_gaps,
        crit_gaps=m.freshness_crit_gaps,
        list_max=m.freshness_list_max,
    )
    return FreshnessCheck(
        ch,
        settings.clickhouse.market_database,
        _hours(settings),
        list(expected),
        limits=limits,
        interval_s=m.freshness_interval_s,
        clock=clock,
        baseline_days=m.freshness_baseline_days,
        baseline_refresh_s=m.freshness_baseline_refresh_s,
    )


def _hours(settings: Settings) -> TradingHours:
    try:
        return from_settings(settings)
    except CalendarNameError as exc:
        raise MonitorConfigError(str(exc)) from None


class SharedAdmin:
    """One AdminClient for every Kafka check, created on first use under a lock.

    The reachability and partition checks run in the scheduler's worker threads and all start
    in the same second; each building its own librdkafka client (over TLS: its own SSL
    context) at that moment was three concurrent client initialisations in one process, and a
    detector was seen to die with SIGSEGV right then over an SSL listener. librdkafka clients
    are thread-safe once built, so one client, built once, serves all of them (and holds one
    set of broker connections instead of three).
    """

    def __init__(self, conf: dict[str, Any]) -> None:
        self._conf = conf
        self._lock = threading.Lock()
        self._admin: Any = None

    def __call__(self) -> Any:
        with self._lock:
            if self._admin is None:
                from confluent_kafka.admin import AdminClient

                self._admin = AdminClient(self._conf)
            return self._admin
