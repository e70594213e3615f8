"""Factories for ClickHouse and Kafka clients, built from settings and a resolved endpoint."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client as ClickHouseClient
from clickhouse_connect.driver.exceptions import DatabaseError

from tickwatch.settings import ClickHouseSettings, KafkaSettings


def clickhouse_client(
    settings: ClickHouseSettings,
    url: str,
    *,
    database: str = "",
    timeout_s: float | None = None,
    **kwargs: Any,
) -> ClickHouseClient:
    """A clickhouse-connect HTTP(S) client for ``url`` (``http://host:port`` or ``https://...``).

    ``timeout_s`` bounds every call of a caller with a budget (a worker's poll interval, a
    check's timeout): the connect timeout becomes at most that and the send/receive timeout that
    (clickhouse-connect takes whole seconds: rounded up, at least 1).

    Raises clickhouse_connect's ``OperationalError`` when the server cannot be reached, and
    :class:`ClickHouseAccessError` (a ``DatabaseError``) naming the setting when the server's
    certificate is not trusted or the login is refused.
    """
    try:
        return _connect(settings, url, database, timeout_s, **kwargs)
    except DatabaseError as exc:
        if (message := _access_problem(str(exc), settings)) is not None:
            raise ClickHouseAccessError(f"{message} ({url}): {exc}") from None
        raise


class ClickHouseAccessError(DatabaseError):
    """Fatal at start-up: untrusted TLS certificate or refused login; names the setting."""


def _access_problem(text: str, settings: ClickHouseSettings) -> str | None:
    if "CERTIFICATE_VERIFY_FAILED" in text:
        where = settings.ca_cert or "unset: the system CA store"
        return (
            "ClickHouse's TLS certificate is not trusted: check TICKWATCH_CLICKHOUSE_CA_CERT "
            f"({where})"
        )
    if "AUTHENTICATION_FAILED" in text:
        return (
            f"ClickHouse refused the login of user {settings.username!r}: check this worker's "
            "TICKWATCH_CLICKHOUSE_<ROLE>_USERNAME / _PASSWORD (or the shared "
            "TICKWATCH_CLICKHOUSE_USERNAME / _PASSWORD when no role user is set)"
        )
    return None


def _connect(
    settings: ClickHouseSettings,
    url: str,
    database: str,
    timeout_s: float | None,
    **kwargs: Any,
) -> ClickHouseClient:
    connect_s, receive_s = settings.connect_timeout_s, settings.send_receive_timeout_s
    if timeout_s is not None:
        connect_s, receive_s = min(connect_s, timeout_s), timeout_s
    parsed = urlparse(url)
    secure = parsed.scheme == "https"
    return clickhouse_connect.get_client(
        host=parsed.hostname or "127.0.0.1",
        port=parsed.port or (8443 if secure else 8123),
        username=settings.username,
        password=settings.password.get_secret_value(),
        database=database,
        secure=secure,
        verify=settings.verify_tls,
        ca_cert=str(settings.ca_cert) if settings.ca_cert else None,
        connect_timeout=whole_seconds(connect_s),
        send_receive_timeout=whole_seconds(receive_s),
        autogenerate_session_id=False,
        **kwargs,
    )


def whole_seconds(seconds: float) -> int:
    """A timeout as clickhouse-connect takes it: whole seconds, rounded up, at least 1."""
    return max(1, math.ceil(seconds))


def kafka_config(
    settings: KafkaSettings, bootstrap: str, **extra: str | int | bool
) -> dict[str, Any]:
    """librdkafka configuration: connection + security from settings, then ``extra``."""
    conf: dict[str, Any] = dict(settings.client_config(bootstrap))
    conf.update(extra)
    return conf
