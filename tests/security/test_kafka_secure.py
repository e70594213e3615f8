"""Kafka over TLS and SASL_SSL for real: a second broker with secured listeners (see conftest).

The workers (ingest, load with its DLQ producer, the detector with its admin client and lag
reader) run as processes over the SSL listener (mutual TLS) and over the SASL_SSL listener
(SCRAM-SHA-512); a wrong password, an untrusted CA or a missing client certificate stops at
start-up with an error naming the setting.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, KafkaError
from pydantic import SecretStr

from tests.deploy.pipeline_run import start_worker
from tickwatch.kafka_access import (
    KafkaSecurityError,
    KafkaUnreachableError,
    describe_security_error,
    verify_kafka_access,
)
from tickwatch.settings import ClickHouseSettings, KafkaSettings
from tickwatch.stack.certs import ensure_self_signed
from tickwatch.stack.kafka_runtime import SecureListeners, server_properties
from tickwatch.stack.kafka_tls import KafkaTlsMaterial
from tickwatch.topics import create_pipeline_topics

from .conftest import SecureKafka
from .secure_run import count, pipeline_env, run_pipeline, secured_kafka

OPENSSL = shutil.which("openssl") or "openssl"
FAIL_FAST_S = 8.0  # well under the 10 s start-up timeout: the error came from the broker


# ------------------------------------------------------------------ unit


def test_secure_listener_properties_keep_the_controller_plaintext_on_loopback(
    tmp_path: Path,
) -> None:
    tls = KafkaTlsMaterial(tmp_path, "store-pw")
    text = server_properties(tmp_path, 9092, 9093, SecureListeners(9094, 9095, tls))
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,SSL://127.0.0.1:9094,SASL_SSL://127.0.0.1:9095,"
        "CONTROLLER://127.0.0.1:9093"
    )
    assert "CONTROLLER:PLAINTEXT" in props["listener.security.protocol.map"]
    assert props["listener.name.ssl.ssl.client.auth"] == "required"
    assert props["listener.name.sasl_ssl.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["ssl.keystore.location"] == str(tls.keystore)
    assert "SSL" not in server_properties(tmp_path, 9092, 9093)


def test_security_errors_name_the_setting() -> None:
    kafka = KafkaSettings(security_protocol="SASL_SSL", sasl_username="u", sasl_password="pw")  # noqa: S106  # a test value
    refused = KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: invalid")
    message = describe_security_error(refused, kafka)
    assert message is not None and "TICKWATCH_KAFKA_SASL_PASSWORD" in message
    assert "pw" not in message.replace("password", "")
    untrusted = KafkaError(KafkaError._SSL, "SSL handshake failed: certificate verify failed")
    assert "TICKWATCH_KAFKA_SSL_CA_LOCATION" in str(describe_security_error(untrusted, kafka))
    alert = KafkaError(KafkaError._TRANSPORT, "Receive failed: ssl/tls alert bad certificate")
    assert "SSL_CERTIFICATE_LOCATION" in str(describe_security_error(alert, kafka))
    down = KafkaError(KafkaError._TRANSPORT, "Connection refused")
    assert describe_security_error(down, kafka) is None


# ------------------------------------------------------------------ real broker


@pytest.mark.kafka
def test_tls_material_chains_to_the_run_ca(secure_kafka: SecureKafka) -> None:
    tls = secure_kafka.tls
    for cert in (tls.client_cert, tls.directory / "broker.pem"):
        done = subprocess.run(
            [OPENSSL, "verify", "-CAfile", str(tls.ca_cert), str(cert)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    assert tls.keystore.stat().st_mode & 0o077 == 0
    assert tls.client_key.stat().st_mode & 0o077 == 0


@pytest.mark.kafka
@pytest.mark.parametrize("listener", ["ssl", "sasl_ssl"])
def test_access_check_passes_on_each_secured_listener(
    secure_kafka: SecureKafka, listener: str
) -> None:
    kafka = secured_kafka(secure_kafka, listener)
    verify_kafka_access(kafka, kafka.bootstrap, 10.0)


@pytest.mark.kafka
def test_wrong_password_stops_at_once_naming_the_setting(secure_kafka: SecureKafka) -> None:
    good = secured_kafka(secure_kafka, "sasl_ssl")
    bad = good.model_copy(update={"sasl_password": SecretStr("not-the-password")})
    started = time.monotonic()
    with pytest.raises(KafkaSecurityError, match="TICKWATCH_KAFKA_SASL_PASSWORD") as caught:
        verify_kafka_access(bad, bad.bootstrap, 30.0)
    assert time.monotonic() - started < FAIL_FAST_S
    assert "not-the-password" not in str(caught.value)


@pytest.mark.kafka
def test_untrusted_ca_stops_naming_the_ca_setting(
    secure_kafka: SecureKafka, tmp_path: Path
) -> None:
    other_ca, _ = ensure_self_signed(tmp_path / "other-ca")  # did not sign the broker
    kafka = secured_kafka(secure_kafka, "ssl").model_copy(update={"ssl_ca_location": other_ca})
    with pytest.raises(KafkaSecurityError, match="TICKWATCH_KAFKA_SSL_CA_LOCATION"):
        verify_kafka_access(kafka, kafka.bootstrap, 30.0)


@pytest.mark.kafka
def test_mutual_tls_listener_without_client_certificate_is_refused(
    secure_kafka: SecureKafka,
) -> None:
    kafka = secured_kafka(secure_kafka, "ssl").model_copy(
        update={"ssl_certificate_location": None, "ssl_key_location": None}
    )
    with pytest.raises(KafkaSecurityError, match="TICKWATCH_KAFKA_SSL_CERTIFICATE_LOCATION"):
        verify_kafka_access(kafka, kafka.bootstrap, 30.0)


@pytest.mark.kafka
def test_plaintext_client_on_a_tls_listener_names_the_protocol(
    secure_kafka: SecureKafka,
) -> None:
    kafka = KafkaSettings(bootstrap=secure_kafka.ssl_bootstrap)
    with pytest.raises(KafkaUnreachableError, match="TICKWATCH_KAFKA_SECURITY_PROTOCOL=PLAINTEXT"):
        verify_kafka_access(kafka, kafka.bootstrap, 2.0)


@pytest.mark.kafka
@pytest.mark.clickhouse
@pytest.mark.parametrize("command", ["ingest", "load", "monitor"])
def test_each_worker_exits_on_a_wrong_password_naming_the_setting(
    secure_kafka: SecureKafka, ch_settings: ClickHouseSettings, tmp_path: Path, command: str
) -> None:
    kafka = secured_kafka(secure_kafka, "sasl_ssl")
    env = pipeline_env(kafka, ch_settings, "127.0.0.1", 1)
    env["TICKWATCH_KAFKA_SASL_PASSWORD"] = "wrong-" + uuid.uuid4().hex
    worker = start_worker(command, env, tmp_path / command)
    try:
        worker.process.wait(60)
    finally:
        code = worker.stop()
    output = worker.log_path.read_text(encoding="utf-8")
    assert code == 2, output
    assert "TICKWATCH_KAFKA_SASL_PASSWORD" in output
    assert env["TICKWATCH_KAFKA_SASL_PASSWORD"] not in output


def _dlq_messages(kafka: KafkaSettings) -> int:
    """Messages on the DLQ topic, read back over the same secured listener."""
    consumer = Consumer(
        kafka.client_config(kafka.bootstrap)
        | {"group.id": f"dlq-reader-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"}
    )
    try:
        consumer.subscribe([kafka.topic_dlq])
        seen, deadline = 0, time.monotonic() + 30
        while time.monotonic() < deadline and seen == 0:
            for message in consumer.consume(100, timeout=1.0):
                seen += message.error() is None
        return seen
    finally:
        consumer.close()


@pytest.mark.kafka
@pytest.mark.clickhouse
@pytest.mark.smtp
@pytest.mark.slow
@pytest.mark.parametrize("listener", ["ssl", "sasl_ssl"])
def test_pipeline_runs_end_to_end_over_the_secured_listener(
    *,
    secure_kafka: SecureKafka,
    ch_settings: ClickHouseSettings,
    ch_client: Client,
    smtp_server: Callable[..., Any],
    tmp_path: Path,
    listener: str,
) -> None:
    kafka = secured_kafka(secure_kafka, listener)
    create_pipeline_topics(kafka, kafka.bootstrap)  # the admin client, over the listener
    smtp = smtp_server()
    env = pipeline_env(kafka, ch_settings, smtp.host, smtp.port)
    codes = run_pipeline(env, ch_client, ch_settings, tmp_path)
    assert codes["ingest"] == 0, codes
    market, ops = ch_settings.market_database, ch_settings.ops_database
    assert count(ch_client, f"SELECT count() FROM {market}.trades") > 0
    assert count(ch_client, f"SELECT count() FROM {ops}.dead_letters") > 0
    assert _dlq_messages(kafka) > 0  # the load worker's DLQ producer wrote over TLS
    healthy = (
        f"SELECT count() FROM {ops}.health_checks WHERE status = 'OK' "
        "AND check IN ('kafka_reachable', 'consumer_lag')"
    )
    assert count(ch_client, healthy) > 0  # the detector's admin client and lag reader
