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
from tickwatch.settings import ClickHouseSettings
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
    log_path: Path  # the broker's own log


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
            broker.log_path,
        )
    finally:
        broker.stop()


@dataclass(frozen=True)
class RoleClickHouse:
    """A ClickHouse server whose users.xml holds one user per role (tickwatch/access.py)."""

    url: str
    settings: ClickHouseSettings  # shared user = default (harness admin); role users set
    http_port: int
    log_path: Path


def role_settings(url: str, suffix: str) -> ClickHouseSettings:
    """Settings with a user (random password) for every role and this run's databases."""
    roles: dict[str, str] = {}
    for role in ("migrate", "load", "telemetry", "monitor", "grafana"):
        roles[f"{role}_username"] = f"tw_{role}"
        roles[f"{role}_password"] = f"{role}-{secrets.token_urlsafe(12)}"
    return ClickHouseSettings(
        url=url, market_database=f"market_{suffix}", ops_database=f"ops_{suffix}", **roles
    )


@pytest.fixture(scope="module")
def role_clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoleClickHouse]:
    """A second ClickHouse server (not the session's), with role users; migrated by ``migrate``.

    The migrations run as the ``migrate`` user itself, so its grants are shown to suffice.
    """
    from tickwatch import migrations
    from tickwatch.access import role_users, users_xml
    from tickwatch.clients import clickhouse_client
    from tickwatch.stack.clickhouse_server import ClickHouseServer

    base = tmp_path_factory.mktemp("role-clickhouse")
    draft = role_settings("", "roles")
    server = ClickHouseServer(
        base / "data",
        base / "run",
        ready_timeout_s=READY_TIMEOUT_S,
        users_xml=users_xml(role_users(draft)),
    )
    server.start()
    try:
        _guard(server.url, "clickhouse")
        _guard(f"127.0.0.1:{server.tcp_port}", "clickhouse")
        settings = draft.model_copy(update={"url": server.url})
        client = clickhouse_client(settings.as_role("migrate"), server.url)
        try:
            migrations.apply(client, settings)
        finally:
            client.close()
        yield RoleClickHouse(server.url, settings, server.http_port, server.log_path)
    finally:
        server.stop()


@dataclass(frozen=True)
class TlsClickHouse:
    """``https://`` in front of the session's ClickHouse, and the CA bundle that trusts it."""

    url: str
    ca_cert: Path


@pytest.fixture(scope="session")
def clickhouse_https(
    clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsClickHouse]:
    """A TLS-terminating loopback proxy (tickwatch.stack.tls_proxy) before the real server.

    The chdb-core engine refuses ``SYSTEM START LISTEN HTTPS``; this is the nearest real thing.
    """
    from urllib.parse import urlparse

    from tickwatch.stack.kafka_tls import ensure_kafka_tls, issue_server_cert
    from tickwatch.stack.tls_proxy import TlsProxy

    material = ensure_kafka_tls(tmp_path_factory.mktemp("clickhouse-tls"))
    cert, key = issue_server_cert(material, "clickhouse")
    proxy = TlsProxy(urlparse(clickhouse_url).port or 0, cert, key)
    proxy.start()
    _guard(proxy.url, "clickhouse")
    try:
        yield TlsClickHouse(proxy.url, material.ca_cert)
    finally:
        proxy.stop()
