"""No secret anywhere it should not be: the real pipeline runs with a known value in every
secret setting, then every place a secret could leak is searched for those values.

Every hop is secured as in production: Kafka SASL_SSL (SCRAM-SHA-512) on the secured broker,
ClickHouse over ``https://`` (TLS proxy before a server with one user per role, each worker on its
own), SMTP with STARTTLS and AUTH. Vendor keys are set although the simulator ignores them, and
the detector probes URLs carrying ``user:password@`` and ``?token=``: one unreachable (its
alert is mailed), one that answers (the load worker's ``/metrics``).

Searched: every worker's output (stdout + stderr: the JSON logs), the broker's and ClickHouse's
logs, every ``ops.*`` table (span and resource attributes, logs, health checks, alerts,
notifications, dead letters...), every email (headers and body) and each worker's ``/metrics``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver.client import Client

from tests.deploy.pipeline_run import Worker, free_port, start_worker, wait_for
from tickwatch.clients import clickhouse_client
from tickwatch.stack.kafka_tls import issue_server_cert
from tickwatch.stack.tls_proxy import TlsProxy
from tickwatch.topics import create_pipeline_topics

from .conftest import RoleClickHouse, SecureKafka
from .secure_run import count, pipeline_env, secured_kafka

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.smtp, pytest.mark.slow]


def _secret(name: str) -> str:
    return f"S3cret-{name}-{secrets.token_hex(6)}"


@pytest.fixture
def https_roles(role_clickhouse: RoleClickHouse, secure_kafka: SecureKafka) -> Iterator[str]:
    """``https://`` in front of the role server (certificate from the run's CA)."""
    cert, key = issue_server_cert(secure_kafka.tls, "clickhouse-roles")
    proxy = TlsProxy(role_clickhouse.http_port, cert, key)
    proxy.start()
    try:
        yield proxy.url
    finally:
        proxy.stop()


def _environment(
    secure: SecureKafka, roles: RoleClickHouse, https_url: str, smtp: Any, smtp_password: str
) -> tuple[dict[str, str], list[str]]:
    """The workers' environment, and every secret value in it."""
    ch = roles.settings
    kafka = secured_kafka(secure, "sasl_ssl")
    create_pipeline_topics(kafka, kafka.bootstrap)
    env = pipeline_env(kafka, ch.model_copy(update={"url": https_url}), smtp.host, smtp.port)
    load_metrics = env["TICKWATCH_LOAD_METRICS_PORT"]
    probe_pw, probe_token, dead_pw, dead_token = (_secret(n) for n in ("pp", "pt", "dp", "dt"))
    vendor = {k: _secret(k) for k in ("ALPACA_KEY_ID", "ALPACA_SECRET_KEY", "POLYGON_API_KEY")}
    shared_pw = _secret("chshared")
    env |= {
        "TICKWATCH_CLICKHOUSE_CA_CERT": str(secure.tls.ca_cert),
        "TICKWATCH_CLICKHOUSE_PASSWORD": shared_pw,  # no worker may fall back to the shared user
        "TICKWATCH_SMTP_TLS": "starttls",
        "TICKWATCH_SMTP_CA_CERT": str(smtp.cert_dir / "cert.pem"),
        "TICKWATCH_SMTP_USERNAME": "alerts",
        "TICKWATCH_SMTP_PASSWORD": smtp_password,
        "TICKWATCH_MONITOR_PROBE_URLS": (
            f"http://prober:{probe_pw}@127.0.0.1:{load_metrics}/metrics?token={probe_token}&a=1,"
            f"http://prober:{dead_pw}@127.0.0.1:{free_port()}/health?access_token={dead_token}"
        ),
        "TICKWATCH_MONITOR_PROBE_INTERVAL_S": "1",
        "TICKWATCH_ALERTS_OPEN_AFTER": "1",
        "TICKWATCH_ALERTS_GROUP_WAIT_S": "0",
    }
    for role in ("load", "telemetry", "monitor"):
        user, password = ch.role_credentials(role)
        env[f"TICKWATCH_CLICKHOUSE_{role.upper()}_USERNAME"] = user
        env[f"TICKWATCH_CLICKHOUSE_{role.upper()}_PASSWORD"] = password
    env |= {f"TICKWATCH_SOURCES_{k}": v for k, v in vendor.items()}
    values = [secure.scram_password, smtp_password, shared_pw, probe_pw, probe_token, dead_pw]
    values += [dead_token, *vendor.values()]
    values += [
        ch.role_credentials(r)[1] for r in ("migrate", "load", "telemetry", "monitor", "grafana")
    ]
    return env, values


def _metrics_pages(env: dict[str, str]) -> dict[str, str]:
    pages = {}
    for worker in ("INGEST", "LOAD", "MONITOR"):
        url = f"http://127.0.0.1:{env[f'TICKWATCH_{worker}_METRICS_PORT']}/metrics"
        try:
            pages[url] = httpx.get(url, timeout=5).text
        except httpx.HTTPError:
            pages[url] = ""  # ingest may have finished; its page was taken before (see run)
    return pages


def _ops_tables(client: Client, ops: str) -> dict[str, str]:
    names = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String} AND NOT is_temporary",
        parameters={"db": ops},
    ).result_rows
    return {
        f"{ops}.{name}": client.raw_query(f"SELECT * FROM {ops}.`{name}` FORMAT TSV").decode(
            errors="replace"
        )
        for (name,) in names
    }


def _hits(places: dict[str, str], values: list[str]) -> list[str]:
    return [
        f"{value[:12]}… in {where}"
        for where, text in places.items()
        for value in values
        if value in text
    ]


def test_no_secret_reaches_logs_tables_spans_emails_or_metrics(
    *,
    secure_kafka: SecureKafka,
    role_clickhouse: RoleClickHouse,
    https_roles: str,
    smtp_server: Callable[..., Any],
    tmp_path: Path,
) -> None:
    smtp_password = _secret("smtp")
    smtp = smtp_server(starttls=True, auth=("alerts", smtp_password))
    env, values = _environment(secure_kafka, role_clickhouse, https_roles, smtp, smtp_password)
    admin = clickhouse_client(role_clickhouse.settings, role_clickhouse.url)  # default: reads all
    ch = role_clickhouse.settings
    market, ops = ch.market_database, ch.ops_database
    places: dict[str, str] = {}
    workers: list[Worker] = [start_worker(c, env, tmp_path / c) for c in ("load", "monitor")]
    try:
        ingest = start_worker("ingest", env, tmp_path / "ingest")
        workers.append(ingest)
        wait_for(lambda: count(admin, f"SELECT count() FROM {market}.trades") > 0, 60)
        places |= _metrics_pages(env)
        ingest.process.wait(90)
        assert wait_for(
            lambda: (
                count(admin, f"SELECT count() FROM {ops}.dead_letters") > 0
                and count(admin, f"SELECT count() FROM {ops}.otel_traces") > 0
                and count(admin, f"SELECT count() FROM {ops}.health_checks WHERE check = 'probe'")
                > 0
                and len(smtp.messages()) > 0
            ),
            timeout_s=60,
        ), {w.command: w.output_tail() for w in workers}
        places |= {f"{k} (late)": v for k, v in _metrics_pages(env).items()}
    finally:
        codes = {w.command: w.stop() for w in workers}
    assert codes["ingest"] == 0, codes
    for worker in workers:
        places[f"{worker.command} output"] = worker.log_path.read_text(encoding="utf-8")
        assert "ACCESS_DENIED" not in places[f"{worker.command} output"], worker.output_tail(40)
    places["kafka log"] = secure_kafka.log_path.read_text(encoding="utf-8", errors="replace")
    places["clickhouse log"] = role_clickhouse.log_path.read_text(
        encoding="utf-8", errors="replace"
    )
    places |= _ops_tables(admin, ops)
    places |= {f"email {i}": m.as_string() for i, m in enumerate(smtp.messages())}
    admin.close()
    assert (
        "probe" in places[f"{ops}.health_checks"]
        and "prober:***@" in places[f"{ops}.health_checks"]
    )
    emails = [text for where, text in places.items() if where.startswith("email")]
    assert any("prober:***@" in text for text in emails), "the probe alert was not mailed"
    assert sum(bool(v) for k, v in places.items() if "/metrics" in k) >= 3  # every worker's page
    assert not _hits(places, values), _hits(places, values)
