"""Fail fast at start-up when Kafka rejects the configured security settings.

librdkafka retries a refused login or a failed TLS handshake for ever, reporting it only to an
error callback. A worker that started with a wrong password would wait silently; instead each
entry point calls :func:`verify_kafka_access` once, which connects with exactly the settings the
workers use and turns the first security error into a :class:`KafkaSecurityError` naming the
``TICKWATCH_KAFKA_*`` setting to fix. Messages never contain a secret (librdkafka's do not).
"""

from __future__ import annotations

import re
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from tickwatch.clock import SYSTEM_CLOCK
from tickwatch.deadline import Deadline
from tickwatch.settings import KafkaSettings

_SLICE_S = 0.5
# what librdkafka says when TLS fails (a handshake error, or an alert the broker sent back)
_TLS_TROUBLE = re.compile(r"SSL handshake failed|ssl/tls alert|SSL routines|security\.protocol")
_TLS_SETTINGS = "TICKWATCH_KAFKA_SSL_CERTIFICATE_LOCATION / TICKWATCH_KAFKA_SSL_KEY_LOCATION"
# librdkafka property -> the setting a user changes
_PROPERTY_SETTING = {
    "ssl.ca.location": "TICKWATCH_KAFKA_SSL_CA_LOCATION",
    "ssl.certificate.location": "TICKWATCH_KAFKA_SSL_CERTIFICATE_LOCATION",
    "ssl.key.location": "TICKWATCH_KAFKA_SSL_KEY_LOCATION",
    "sasl.mechanism": "TICKWATCH_KAFKA_SASL_MECHANISM",
    "sasl.username": "TICKWATCH_KAFKA_SASL_USERNAME",
    "security.protocol": "TICKWATCH_KAFKA_SECURITY_PROTOCOL",
}


class KafkaAccessError(Exception):
    """Kafka could not be used at start-up; the message says why and what to change."""


class KafkaSecurityError(KafkaAccessError):
    """Fatal: the broker refused the credentials or the TLS handshake failed. Fix the setting."""


class KafkaUnreachableError(KafkaAccessError):
    """Recoverable: no broker answered within the timeout (it may be starting)."""


def verify_kafka_access(settings: KafkaSettings, bootstrap: str, timeout_s: float) -> None:
    """Fetch cluster metadata once with ``settings``' security configuration.

    Blocks at most about ``timeout_s``, returning as soon as metadata arrives or a security
    error is reported. Raises :class:`KafkaSecurityError` (names the setting) or
    :class:`KafkaUnreachableError`.
    """
    errors: list[KafkaError] = []
    conf: dict[str, Any] = dict(settings.client_config(bootstrap))
    conf |= {"error_cb": errors.append, "log_level": 0, "client.id": "tickwatch-access-check"}
    try:
        admin = AdminClient(conf)
    except KafkaException as exc:
        raise KafkaSecurityError(_describe_config(str(exc.args[0]))) from None
    deadline = Deadline(timeout_s, SYSTEM_CLOCK)
    while True:
        try:
            admin.list_topics(timeout=_SLICE_S)
            return
        except KafkaException as exc:
            last = exc.args[0] if exc.args else None
        admin.poll(0)  # serves error_cb
        for error in errors:
            if (message := describe_security_error(error, settings)) is not None:
                raise KafkaSecurityError(message)
        if deadline.expired():
            raise KafkaUnreachableError(
                f"Kafka at {bootstrap} (TICKWATCH_KAFKA_BOOTSTRAP) did not answer within "
                f"{timeout_s:.0f}s with TICKWATCH_KAFKA_SECURITY_PROTOCOL="
                f"{settings.security_protocol}: {last}"
            )


def describe_security_error(error: KafkaError, settings: KafkaSettings) -> str | None:
    """The message for a security failure reported by librdkafka, or None for other errors."""
    code, text = error.code(), error.str()
    protocol = f"TICKWATCH_KAFKA_SECURITY_PROTOCOL={settings.security_protocol}"
    if code == KafkaError._AUTHENTICATION:
        return (
            "Kafka refused the login: check TICKWATCH_KAFKA_SASL_USERNAME "
            f"({settings.sasl_username!r}) and TICKWATCH_KAFKA_SASL_PASSWORD "
            f"(TICKWATCH_KAFKA_SASL_MECHANISM={settings.sasl_mechanism}, {protocol}): {text}"
        )
    if code not in (KafkaError._SSL, KafkaError._TRANSPORT) or not _TLS_TROUBLE.search(text):
        return None
    if "certificate verify failed" in text:
        return (
            "Kafka's TLS certificate is not trusted: check TICKWATCH_KAFKA_SSL_CA_LOCATION "
            f"({settings.ssl_ca_location or 'unset: the system CA store'}): {text}"
        )
    if "PLAINTEXT" in text or "security.protocol" in text:
        return f"Kafka closed the connection: check {protocol} for this listener: {text}"
    return (
        f"the TLS handshake with Kafka failed ({protocol}); if the listener requires a client "
        f"certificate, check {_TLS_SETTINGS}: {text}"
    )


def _describe_config(text: str) -> str:
    """Name the setting behind a librdkafka configuration error (``ssl.ca.location failed``)."""
    for prop, setting in _PROPERTY_SETTING.items():
        if re.search(rf"\b{re.escape(prop)}\b", text):
            return f"Kafka client configuration rejected: check {setting}: {text}"
    return f"Kafka client configuration rejected: {text}"
