"""One start / stop / probe recipe per local stack component, all keyed by a stack.json record.

A record holds the component's address fields, ``pid``, ``log`` and ``external``; see
:mod:`tickwatch.stack.stackfile`. Starting returns a new record; stopping and probing read one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from tickwatch.access import role_users, users_xml
from tickwatch.settings import Settings
from tickwatch.stack import (
    clickhouse_server,
    kafka_broker,
    kafka_cluster,
    process,
    prometheus,
    s3_server,
)
from tickwatch.stack.mail_process import MailProcess
from tickwatch.stack.net import accepts_connections, reusable
from tickwatch.stack.stackfile import Record


def start_clickhouse(settings: Settings, state_dir: Path, previous: Record) -> Record:
    """Start ClickHouse (data in ``clickhouse-data``), on the previous ports if free; blocks.

    When role users are configured (``TICKWATCH_CLICKHOUSE_<ROLE>_USERNAME``), the server gets
    them, with their grants, from a generated ``users.xml`` (``tickwatch.access``).
    """
    roles = role_users(settings.clickhouse)
    server = clickhouse_server.ClickHouseServer(
        state_dir / "clickhouse-data",
        state_dir / "clickhouse-run",
        http_port=reusable(previous.get("http_port")),
        tcp_port=reusable(previous.get("tcp_port")),
        log_path=state_dir / "logs" / "clickhouse.log",
        ready_timeout_s=settings.stack.ready_timeout_s,
        users_xml=users_xml(roles) if roles else None,
    )
    server.start()
    return {
        "url": server.url,
        "http_port": server.http_port,
        "tcp_port": server.tcp_port,
        "pid": server.pid,
        "log": str(server.log_path),
    }


def start_kafka(settings: Settings, state_dir: Path, previous: Record) -> Record:
    """Start the Kafka broker (it keeps its own ports in ``kafka/ports.json``), or with
    ``stack.kafka_brokers`` > 1 a KRaft cluster under ``kafka-cluster/``; blocks."""
    if settings.stack.kafka_brokers > 1:
        return _start_kafka_cluster(settings, state_dir)
    broker = kafka_broker.KafkaBroker(
        state_dir,
        heap_mb=settings.stack.kafka_heap_mb,
        ready_timeout_s=settings.stack.ready_timeout_s,
    )
    broker.start()
    return {
        "bootstrap": broker.bootstrap,
        "port": broker.port,
        "controller_port": broker.controller_port,
        "pid": broker.pid,
        "log": str(broker.log_path),
    }


def _start_kafka_cluster(settings: Settings, state_dir: Path) -> Record:
    cluster = kafka_cluster.KafkaCluster(
        state_dir / "kafka-cluster",
        settings.stack.kafka_brokers,
        heap_mb=min(settings.stack.kafka_heap_mb, 256),
        ready_timeout_s=settings.stack.ready_timeout_s,
        libs_dir=state_dir / "kafka-libs",
    )
    cluster.start()
    pids = [node.pid for node in cluster.nodes]
    return {
        "bootstrap": cluster.bootstrap,
        "brokers": len(cluster.nodes),
        "pid": pids[0],
        "pids": pids,
        "log": str(cluster.nodes[0].log_path),
    }


def scrape_targets(settings: Settings, extra: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The tickwatch processes' metrics endpoints (ingest, load, monitor) plus ``extra`` jobs."""
    host = settings.telemetry.metrics_host
    targets = {
        "tickwatch-ingest": [f"{host}:{settings.ingest.metrics_port}"],
        "tickwatch-load": [f"{host}:{settings.load.metrics_port}"],
        "tickwatch-monitor": [f"{host}:{settings.monitor.metrics_port}"],
    }
    targets.update({job: list(addresses) for job, addresses in extra.items()})
    return targets


def start_prometheus(
    settings: Settings, state_dir: Path, previous: Record, extra: Mapping[str, Sequence[str]]
) -> Record:
    """Start Prometheus scraping :func:`scrape_targets`; blocks. Needs the Debian binary."""
    server = prometheus.PrometheusServer(
        state_dir,
        scrape_targets(settings, extra),
        port=reusable(previous.get("port")),
        ready_timeout_s=settings.stack.ready_timeout_s,
    )
    server.start()
    return {"url": server.url, "port": server.port, "pid": server.pid, "log": str(server.log_path)}


def start_smtp(settings: Settings, state_dir: Path, previous: Record) -> Record:
    """Start the mail server (STARTTLS / AUTH as ``settings.smtp`` asks); blocks."""
    smtp = settings.smtp
    auth = (smtp.username, smtp.password.get_secret_value()) if smtp.username else None
    server = MailProcess(
        state_dir,
        port=smtp.port or reusable(previous.get("port")),
        starttls=smtp.tls == "starttls",
        auth=auth,
        ready_timeout_s=settings.stack.ready_timeout_s,
    )
    server.start()
    return {
        "host": server.host,
        "port": server.port,
        "mail_dir": str(server.mail_dir),
        "ca_cert": str(server.cert_path) if server.cert_path else None,
        "pid": server.pid,
        "log": str(server.log_path),
    }


def start_s3(settings: Settings, state_dir: Path, previous: Record) -> Record:
    """Start the S3 server (gofakes3 as ``make setup`` built it into ``bin/``; data in ``s3``)."""
    server = s3_server.S3Server(
        state_dir / "bin" / "gofakes3",
        state_dir / "s3",
        settings.archive.bucket,
        port=reusable(previous.get("port")),
        ready_timeout_s=settings.stack.ready_timeout_s,
    )
    server.start()
    return {
        "endpoint": server.endpoint,
        "url": server.endpoint,
        "port": server.port,
        "pid": server.pid,
        "log": str(server.log_path),
    }


def stop(name: str, record: Record) -> None:
    """Stop a component this stack started; external ones and dead pids are left alone.

    Blocks until the process is gone (each recipe bounds its waits).
    """
    pid = record.get("pid")
    if record.get("external") or not isinstance(pid, int) or not is_same_process(record):
        return
    if name == "clickhouse":
        clickhouse_server.ClickHouseServer(
            Path(), Path(), http_port=int(record["http_port"]), pid=pid
        ).stop()
    else:
        for each in reversed(record.get("pids") or [pid]):  # the nodes of a Kafka cluster
            process.terminate(int(each), 30.0)


def is_same_process(record: Record) -> bool:
    """False when the pid now belongs to a different process than the one we started."""
    started = record.get("started_at")
    now = process.started_at(record.get("pid"))
    return now is not None and (started is None or abs(now - float(started)) < 1.0)


def address(name: str, record: Record) -> str:
    """What to show as the component's address."""
    if name == "kafka":
        return str(record.get("bootstrap", ""))
    if name == "smtp":
        return f"{record.get('host', '')}:{record.get('port', '')}"
    return str(record.get("url", ""))


def healthy(name: str, record: Record) -> bool:
    """Probe the component over the network (bounded by a few seconds); never raises."""
    if name == "clickhouse":
        return clickhouse_server.is_ready(str(record.get("url", "")))
    if name == "kafka":
        return kafka_broker.metadata_answers(str(record.get("bootstrap", "")))
    if name == "prometheus":
        return prometheus.is_ready(str(record.get("url", "")))
    if name == "s3":
        return s3_server.answers(str(record.get("url", "")))
    port = int(record.get("port") or 0)
    return bool(port) and accepts_connections(port, str(record.get("host", "")))
