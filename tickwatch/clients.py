"""Factories for ClickHouse and Kafka clients, built from settings and a resolved endpoint."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client as ClickHouseClient

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
    (clickhouse-connect takes whole seconds: rounded up, at least 1). Raises clickhouse_connect's
    ``OperationalError`` when the server cannot be reached.
    """
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
