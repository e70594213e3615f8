"""A second, secured Kafka broker for the security tests only (SSL and SASL_SSL listeners).

Started the first time a test asks for ``secure_kafka`` and stopped at the end of the session;
the default session broker of ``tests/conftest.py`` stays PLAINTEXT and is not touched. Its TLS
material (a CA, the broker keystore, a client certificate) is generated for this run with
``keytool`` and ``openssl``; the SCRAM-SHA-512 user is created through the admin API.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import READY_TIMEOUT_S, _guard
from tickwatch.stack.kafka_tls import KafkaTlsMaterial

SCRAM_USER = "tickwatch-worker"


@dataclass(frozen=True)
class SecureKafka:
    """Addresses of the secured listeners, the CA / client certificate, the SCRAM login."""

    plaintext_bootstrap: str  # loopback, inter-broker and admin use (SCRAM users, topics)
    ssl_bootstrap: str
    sasl_ssl_bootstrap: str
    tls: KafkaTlsMaterial
    scram_user: str
    scram_password: str


@pytest.fixture(scope="session")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    """A broker with SSL (mutual TLS) and SASL_SSL (SCRAM-SHA-512) listeners and one user."""
    from tickwatch.stack.kafka_broker import KafkaBroker

    shared_libs = Path(tempfile.gettempdir()) / "tickwatch-kafka-libs"
    libs = Path(os.environ.get("TICKWATCH_TEST_KAFKA_LIBS", str(shared_libs)))
    broker = KafkaBroker(
        tmp_path_factory.mktemp("secure-kafka"),
        libs_dir=libs,
        heap_mb=384,
        ready_timeout_s=READY_TIMEOUT_S,
        secure=True,
    )
    broker.start()
    try:
        for address in (broker.bootstrap, broker.ssl_bootstrap, broker.sasl_ssl_bootstrap):
            _guard(address, "kafka")
        _guard(f"127.0.0.1:{broker.controller_port}", "kafka")
        password = secrets.token_urlsafe(16)
        broker.create_scram_user(SCRAM_USER, password)
        assert broker.tls is not None
        yield SecureKafka(
            broker.bootstrap,
            broker.ssl_bootstrap,
            broker.sasl_ssl_bootstrap,
            broker.tls,
            SCRAM_USER,
            password,
        )
    finally:
        broker.stop()
