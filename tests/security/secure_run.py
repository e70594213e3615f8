"""Run the real workers (``tickwatch ingest|load|monitor`` processes) against a secured broker.

Shared by the Kafka TLS/SASL end-to-end tests and the no-secret-anywhere test: the workers are
configured only through ``TICKWATCH_*`` variables, as in docker-compose.yml.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from clickhouse_connect.driver.client import Client

from tests.deploy.pipeline_run import Worker, start_worker, wait_for, worker_env
from tickwatch.settings import ClickHouseSettings, KafkaSettings, Settings

from .conftest import SecureKafka

INGEST_SECONDS = 4
PARTITIONS = 2


def secured_kafka(secure: SecureKafka, listener: str) -> KafkaSettings:
    """Kafka settings with fresh topic names for the ``ssl`` or ``sasl_ssl`` listener."""
    prefix = f"s_{uuid.uuid4().hex[:8]}"
    topics = {
        "topic_trades": f"{prefix}.trades",
        "topic_quotes": f"{prefix}.quotes",
        "topic_bars": f"{prefix}.bars",
        "topic_corrections": f"{prefix}.corrections",
        "topic_dlq": f"{prefix}.dlq",
        "partitions": PARTITIONS,
        "consumer_group": f"{prefix}-load",
    }
    tls = secure.tls
    if listener == "ssl":
        return KafkaSettings(
            bootstrap=secure.ssl_bootstrap,
            security_protocol="SSL",
            ssl_ca_location=tls.ca_cert,
            ssl_certificate_location=tls.client_cert,
            ssl_key_location=tls.client_key,
            **topics,
        )
    return KafkaSettings(
        bootstrap=secure.sasl_ssl_bootstrap,
        security_protocol="SASL_SSL",
        ssl_ca_location=tls.ca_cert,
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=secure.scram_user,
        sasl_password=secure.scram_password,
        **topics,
    )


def kafka_env(kafka: KafkaSettings) -> dict[str, str]:
    """The security part of a worker's environment."""
    env: dict[str, str] = {"TICKWATCH_KAFKA_SECURITY_PROTOCOL": kafka.security_protocol}
    for key in ("ssl_ca_location", "ssl_certificate_location", "ssl_key_location"):
        if (value := getattr(kafka, key)) is not None:
            env[f"TICKWATCH_KAFKA_{key.upper()}"] = str(value)
    if kafka.security_protocol.startswith("SASL"):
        env["TICKWATCH_KAFKA_SASL_MECHANISM"] = kafka.sasl_mechanism
        env["TICKWATCH_KAFKA_SASL_USERNAME"] = kafka.sasl_username
        env["TICKWATCH_KAFKA_SASL_PASSWORD"] = kafka.sasl_password.get_secret_value()
    return env


def pipeline_env(
    kafka: KafkaSettings, ch: ClickHouseSettings, smtp_host: str, smtp_port: int
) -> dict[str, str]:
    """Everything the three workers need, aimed at the secured broker and the harness's CH."""
    settings = Settings(_env_file=None, kafka=kafka, clickhouse=ch)
    return worker_env(settings, smtp_host, smtp_port, INGEST_SECONDS) | kafka_env(kafka)


def count(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


def run_pipeline(
    env: dict[str, str], client: Client, ch: ClickHouseSettings, workdir: Path
) -> dict[str, int]:
    """load + monitor, then ingest to its end; wait for trades, dead letters and a lag result.

    Returns each worker's exit code; every worker is stopped before returning.
    """
    workers: list[Worker] = [
        start_worker("load", env, workdir / "load"),
        start_worker("monitor", env, workdir / "monitor"),
    ]
    try:
        ingest = start_worker("ingest", env, workdir / "ingest")
        workers.append(ingest)
        ingest.process.wait(INGEST_SECONDS + 90)
        market, ops = ch.market_database, ch.ops_database
        wait_for(
            lambda: (
                count(client, f"SELECT count() FROM {market}.trades") > 0
                and count(client, f"SELECT count() FROM {ops}.dead_letters") > 0
                and count(
                    client,
                    f"SELECT count() FROM {ops}.health_checks "
                    "WHERE check = 'consumer_lag' AND status = 'OK'",
                )
                > 0
            ),
            timeout_s=60,
        )
    finally:
        codes = {w.command: w.stop() for w in workers}
    for worker in workers:
        if codes[worker.command] not in (0, -15):
            print(f"--- {worker.command} exited {codes[worker.command]}:\n{worker.output_tail()}")
    return codes
