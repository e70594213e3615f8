"""One fault's own corner of the stack: topics, consumer group, databases, detector state, SMTP
server, and the real workers (``python -m tickwatch ingest|load|monitor``) as subprocesses.

Workers are configured only through ``TICKWATCH_*`` variables, as in docker-compose.yml. The
values below shorten what would make a fault slow to observe (a 6 s session timeout so a
killed load worker's partitions move on quickly; 1 s checks) and raise the thresholds of the
detector's checks that a fault does not target, so every email a fault receives is one it
expects or a finding.
"""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from collections.abc import Mapping
from pathlib import Path

from clickhouse_connect.driver.client import Client

from bench.faults.stack import FaultStack
from bench.worker import WorkerProcess
from tickwatch import migrations
from tickwatch.clients import clickhouse_client
from tickwatch.settings import ClickHouseSettings, KafkaSettings
from tickwatch.stack.mailserver import MailServer
from tickwatch.topics import create_pipeline_topics, delete_topics, pipeline_topics

PARTITIONS = 3
QUIET_MONITOR = {
    "TICKWATCH_MONITOR_REACHABILITY_INTERVAL_S": "1",
    "TICKWATCH_MONITOR_CHECK_TIMEOUT_S": "2",
    "TICKWATCH_MONITOR_LAG_INTERVAL_S": "2",
    "TICKWATCH_MONITOR_LAG_WARN_SECONDS": "3600",
    "TICKWATCH_MONITOR_LAG_CRIT_SECONDS": "7200",
    "TICKWATCH_MONITOR_FRESHNESS_INTERVAL_S": "5",
    "TICKWATCH_MONITOR_FRESHNESS_WARN_S": "3600",
    "TICKWATCH_MONITOR_FRESHNESS_CRIT_S": "7200",
    "TICKWATCH_MONITOR_HEARTBEAT_INTERVAL_S": "1",
    "TICKWATCH_MONITOR_HEARTBEAT_TIMEOUT_S": "3600",
    "TICKWATCH_MONITOR_LATENCY_P99_THRESHOLD_S": "3600",
    "TICKWATCH_MONITOR_DLQ_RATE_THRESHOLD": "1000000",
    "TICKWATCH_MONITOR_OFFSET_RESET_INTERVAL_S": "2",
    "TICKWATCH_ALERTS_GROUP_WAIT_S": "1",
    # the dependants' catch-up after their root cause resolved: after a 30 s ClickHouse hang the
    # load worker drained its lag 3-10 s after clickhouse_reachable resolved on the loaded 2-core
    # VM, so 10 s left no margin (the default is 60 s)
    "TICKWATCH_ALERTS_INHIBIT_GRACE_S": "30",
}


class Lane:
    """Namespaces and processes of one fault. :meth:`open` creates the topics (3 partitions)
    and migrates the databases; :meth:`close` stops every worker (SIGKILL after a grace),
    the SMTP server, and drops what :meth:`open` created (kept with ``keep``)."""

    def __init__(self, stack: FaultStack, name: str, root: Path, seed: int) -> None:
        tag = f"{name.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
        self.name, self.stack, self.seed = name, stack, seed
        self.dir = root / name
        self.kafka = KafkaSettings(
            bootstrap=stack.bootstrap, topic_trades=f"f.{tag}.trades",
            topic_quotes=f"f.{tag}.quotes", topic_bars=f"f.{tag}.bars",
            topic_dlq=f"f.{tag}.dlq", partitions=PARTITIONS, consumer_group=f"f.{tag}.load",
        )  # fmt: skip
        self.clickhouse = ClickHouseSettings(
            url=stack.clickhouse_url, market_database=f"fm_{tag}", ops_database=f"fo_{tag}"
        )
        self.mail = MailServer(self.dir / "mail", cert_dir=self.dir / "tls")
        self.workers: list[WorkerProcess] = []
        self._runs = 0

    def open(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        create_pipeline_topics(self.kafka, self.stack.bootstrap)
        admin = clickhouse_client(self.clickhouse, self.stack.clickhouse_url, timeout_s=30)
        try:
            migrations.apply(admin, self.clickhouse)
        finally:
            admin.close()
        self.mail.start()

    def close(self, keep: bool = False) -> None:
        for worker in self.workers:
            with contextlib.suppress(Exception):
                worker.stop(signal.SIGTERM, grace_s=10.0)
        self.mail.stop()
        if keep:
            return
        with contextlib.suppress(Exception):
            delete_topics(self.kafka.client_config(self.stack.bootstrap),
                          pipeline_topics(self.kafka))  # fmt: skip
        with contextlib.suppress(Exception):
            admin = clickhouse_client(self.clickhouse, self.stack.clickhouse_url, timeout_s=30)
            for database in (self.clickhouse.market_database, self.clickhouse.ops_database):
                admin.command(f"DROP DATABASE IF EXISTS {database} SYNC")
            admin.close()

    def client(self, timeout_s: float | None = 10.0) -> Client:
        """A ClickHouse client on this lane's market database (ops tables: qualify names)."""
        return clickhouse_client(
            self.clickhouse, self.stack.clickhouse_url,
            database=self.clickhouse.market_database, timeout_s=timeout_s,
        )  # fmt: skip

    @property
    def ops(self) -> str:
        return self.clickhouse.ops_database

    def env(self, **extra: str) -> dict[str, str]:
        """The TICKWATCH_* environment of this lane's workers, ``extra`` on top."""
        k, c = self.kafka, self.clickhouse
        env = {
            "TICKWATCH_STACK_STATE_DIR": str(self.dir / "state"),
            "TICKWATCH_KAFKA_BOOTSTRAP": self.stack.bootstrap,
            "TICKWATCH_KAFKA_TOPIC_TRADES": k.topic_trades,
            "TICKWATCH_KAFKA_TOPIC_QUOTES": k.topic_quotes,
            "TICKWATCH_KAFKA_TOPIC_BARS": k.topic_bars,
            "TICKWATCH_KAFKA_TOPIC_DLQ": k.topic_dlq,
            "TICKWATCH_KAFKA_PARTITIONS": str(k.partitions),
            "TICKWATCH_KAFKA_CONSUMER_GROUP": k.consumer_group,
            "TICKWATCH_CLICKHOUSE_URL": self.stack.clickhouse_url,
            "TICKWATCH_CLICKHOUSE_MARKET_DATABASE": c.market_database,
            "TICKWATCH_CLICKHOUSE_OPS_DATABASE": c.ops_database,
            "TICKWATCH_CLICKHOUSE_CONNECT_TIMEOUT_S": "2",
            "TICKWATCH_INGEST_METRICS_PORT": "0",
            "TICKWATCH_LOAD_METRICS_PORT": "0",
            "TICKWATCH_MONITOR_METRICS_PORT": "0",
            "TICKWATCH_TELEMETRY_HEARTBEAT_INTERVAL_S": "1",
            "TICKWATCH_TELEMETRY_EXPORT_INTERVAL_S": "1",
            # the detector faults judge heartbeats with a 15 s timeout (catalog.HEARTBEAT):
            # heartbeat + flush + check interval must stay under it, as before the 10 s default
            "TICKWATCH_TELEMETRY_FLUSH_INTERVAL_S": "5",
            "TICKWATCH_TELEMETRY_TRACES_ENABLED": "false",
            "TICKWATCH_INGEST_SOURCE": "simulator",
            "TICKWATCH_INGEST_SEED": str(self.seed),
            "TICKWATCH_INGEST_SYMBOLS": "6",
            "TICKWATCH_INGEST_RATE": "150",
            "TICKWATCH_LOAD_BATCH_MAX_MS": "200",
            "TICKWATCH_LOAD_SHUTDOWN_TIMEOUT_S": "10",
            "TICKWATCH_LOAD_SESSION_TIMEOUT_MS": "6000",
            "TICKWATCH_LOAD_INSERT_TIMEOUT_S": "5",
            "TICKWATCH_LOAD_RETRY_MAX_S": "2",
            "TICKWATCH_SMTP_HOST": self.mail.host,
            "TICKWATCH_SMTP_PORT": str(self.mail.port),
            "TICKWATCH_SMTP_RETRY_MAX_S": "5",
            **QUIET_MONITOR,
        }
        return env | extra

    def start(self, command: str, env: Mapping[str, str] | None = None) -> WorkerProcess:
        """Start ``tickwatch <command>`` (logs in the lane's folder); returns the process."""
        self._runs += 1
        base = {k: v for k, v in os.environ.items() if not k.startswith("TICKWATCH_")}
        worker = WorkerProcess(
            command, base | dict(env or self.env()),
            self.dir / f"{self._runs:02d}-{command}.log", self.dir,
        )  # fmt: skip
        self.workers.append(worker.start())
        return worker

    def kill(self, worker: WorkerProcess, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` and wait for the exit (SIGKILL after 20 s)."""
        worker.stop(sig, grace_s=20.0)
