"""``https://`` to ClickHouse with a CA bundle, against a real TLS endpoint.

The local chdb-core server cannot listen on HTTPS, so the endpoint is a TLS-terminating loopback
proxy in front of the real server (see ``tickwatch.stack.tls_proxy``); the client side —
clickhouse-connect with ``secure=True``, ``verify`` and ``ca_cert`` — is exactly production's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clickhouse_connect.driver.exceptions import ClickHouseError

from tickwatch.clients import ClickHouseAccessError, clickhouse_client
from tickwatch.settings import ClickHouseSettings
from tickwatch.stack.certs import ensure_self_signed

from .conftest import TlsClickHouse

pytestmark = pytest.mark.clickhouse


def test_https_with_the_ca_bundle_queries_the_real_server(
    clickhouse_https: TlsClickHouse, ch_settings: ClickHouseSettings
) -> None:
    settings = ch_settings.model_copy(update={"ca_cert": clickhouse_https.ca_cert})
    client = clickhouse_client(settings, clickhouse_https.url)
    try:
        assert client.command("SELECT 40 + 2") == 42
        client.command(f"INSERT INTO {ch_settings.ops_database}.dead_letters (reason) VALUES ('x')")
        count = client.command(f"SELECT count() FROM {ch_settings.ops_database}.dead_letters")
        assert count == 1
    finally:
        client.close()


def test_untrusted_certificate_is_refused_naming_the_ca_setting(
    clickhouse_https: TlsClickHouse, tmp_path: Path
) -> None:
    other_ca, _ = ensure_self_signed(tmp_path / "other")
    for ca_cert in (other_ca, None):  # a CA that did not sign it; the system store
        settings = ClickHouseSettings(ca_cert=ca_cert, connect_timeout_s=5)
        with pytest.raises(ClickHouseAccessError, match="TICKWATCH_CLICKHOUSE_CA_CERT"):
            clickhouse_client(settings, clickhouse_https.url)


def test_plain_http_client_gets_no_answer_from_the_tls_port(
    clickhouse_https: TlsClickHouse,
) -> None:
    plain = clickhouse_https.url.replace("https://", "http://")
    with pytest.raises(ClickHouseError):  # the TLS port speaks no plaintext HTTP
        clickhouse_client(ClickHouseSettings(connect_timeout_s=3, send_receive_timeout_s=3), plain)
