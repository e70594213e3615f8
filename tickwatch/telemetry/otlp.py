"""OTLP export of traces and logs, configured the way the OpenTelemetry specification says.

Everything comes from :class:`~tickwatch.settings.OtelSettings` (the ``OTEL_*`` variables, read
once at the entry point); the SDK exporters get every option explicitly, so they never fall
back to reading the environment themselves. The rules (OpenTelemetry specification, "OTLP
Exporter Configuration" and "SDK environment variables"):

- a signal is exported over OTLP when ``OTEL_<SIGNAL>_EXPORTER`` is ``otlp``, or when it is
  unset and an endpoint applies to the signal; ``none`` turns it off, and so does
  ``OTEL_SDK_DISABLED=true``. Unlike the specification's default (``otlp`` to localhost) no
  endpoint means no OTLP: tickwatch's embedded default is its ClickHouse tables;
- ``OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`` is used as it is; otherwise the general
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` is the base URL, to which HTTP appends ``v1/traces`` /
  ``v1/logs`` (gRPC uses it as it is); neither set but export asked for: the protocol's
  default, ``http://localhost:4318`` (HTTP) or ``http://localhost:4317`` (gRPC);
- every other option (protocol, headers, timeout in ms, compression, insecure, certificate,
  client key and certificate) takes the per-signal value when set, else the general one;
- headers are ``key=value`` pairs separated by commas with percent-encoded values (W3C baggage
  format); a malformed pair raises :class:`OtlpConfigError` naming the variable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tickwatch.settings import OtelSettings

Signal = Literal["traces", "logs"]
Protocol = Literal["http/protobuf", "grpc"]
DEFAULT_ENDPOINTS: dict[str, str] = {
    "http/protobuf": "http://localhost:4318",
    "grpc": "http://localhost:4317",
}


class OtlpConfigError(ValueError):
    """An ``OTEL_*`` value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class OtlpTarget:
    """Where and how one signal is sent over OTLP."""

    signal: Signal
    endpoint: str
    protocol: Protocol
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    gzip: bool = False
    insecure: bool | None = None
    certificate: Path | None = None
    client_key: Path | None = None
    client_certificate: Path | None = None


def _pick(otel: OtelSettings, signal: Signal, option: str) -> object:
    """The per-signal value of ``option`` when set, else the general one."""
    specific = getattr(otel, f"exporter_otlp_{signal}_{option}")
    if specific not in (None, ""):
        return specific
    return getattr(otel, f"exporter_otlp_{option}")


def _secret_pick(otel: OtelSettings, signal: Signal) -> tuple[str, str]:
    """(variable name, value) of the headers that apply to ``signal``."""
    specific = getattr(otel, f"exporter_otlp_{signal}_headers").get_secret_value()
    if specific:
        return f"OTEL_EXPORTER_OTLP_{signal.upper()}_HEADERS", str(specific)
    return "OTEL_EXPORTER_OTLP_HEADERS", otel.exporter_otlp_headers.get_secret_value()


def parse_pairs(text: str, variable: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` (values percent-decoded) -> dict; raises naming ``variable``.

    The format of ``OTEL_EXPORTER_OTLP_HEADERS`` and ``OTEL_RESOURCE_ATTRIBUTES``.
    """
    pairs: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise OtlpConfigError(f"{variable}: {item.strip()!r} is not key=value")
        pairs[key.strip()] = unquote(value.strip())
    return pairs


def parse_headers(text: str, variable: str) -> dict[str, str]:
    """Headers from ``text``; names lower-cased (gRPC metadata requires it, HTTP ignores case)."""
    return {key.lower(): value for key, value in parse_pairs(text, variable).items()}


def _wanted(otel: OtelSettings, signal: Signal) -> bool:
    if otel.sdk_disabled:
        return False
    choice = otel.traces_exporter if signal == "traces" else otel.logs_exporter
    if choice:
        return choice == "otlp"
    return bool(otel.exporter_otlp_endpoint or getattr(otel, f"exporter_otlp_{signal}_endpoint"))


def _endpoint(otel: OtelSettings, signal: Signal, protocol: Protocol) -> str:
    specific = str(getattr(otel, f"exporter_otlp_{signal}_endpoint"))
    if specific:
        return specific
    base = otel.exporter_otlp_endpoint or DEFAULT_ENDPOINTS[protocol]
    if protocol == "grpc":
        return base
    return f"{base.rstrip('/')}/v1/{signal}"


def resolve(otel: OtelSettings, signal: Signal) -> OtlpTarget | None:
    """The OTLP target for ``signal``, or None when it is not exported over OTLP."""
    if not _wanted(otel, signal):
        return None
    protocol: Protocol = _pick(otel, signal, "protocol")  # type: ignore[assignment]
    variable, header_text = _secret_pick(otel, signal)
    timeout_ms = _pick(otel, signal, "timeout")
    return OtlpTarget(
        signal=signal,
        endpoint=_endpoint(otel, signal, protocol),
        protocol=protocol,
        headers=parse_headers(header_text, variable),
        timeout_s=float(timeout_ms) / 1000.0,  # type: ignore[arg-type]
        gzip=_pick(otel, signal, "compression") == "gzip",
        insecure=_pick(otel, signal, "insecure"),  # type: ignore[arg-type]
        certificate=_pick(otel, signal, "certificate"),  # type: ignore[arg-type]
        client_key=_pick(otel, signal, "client_key"),  # type: ignore[arg-type]
        client_certificate=_pick(otel, signal, "client_certificate"),  # type: ignore[arg-type]
    )


def _file(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def span_exporter(target: OtlpTarget) -> SpanExporter:
    """The SDK's OTLP span exporter for ``target`` (HTTP/protobuf or gRPC)."""
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter(**_grpc_options(target))
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(**_http_options(target))


def log_exporter(target: OtlpTarget) -> LogRecordExporter:
    """The SDK's OTLP log exporter for ``target`` (HTTP/protobuf or gRPC)."""
    if target.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
            OTLPLogExporter as GrpcLogExporter,
        )

        return GrpcLogExporter(**_grpc_options(target))
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    return OTLPLogExporter(**_http_options(target))


def _grpc_options(target: OtlpTarget) -> dict[str, Any]:
    """Every option of the SDK's gRPC exporters (spans and logs take the same), explicitly."""
    insecure, credentials, compression = _grpc_transport(target)
    return {
        "endpoint": target.endpoint,
        "insecure": insecure,
        "credentials": credentials,
        "headers": target.headers,
        "timeout": target.timeout_s,
        "compression": compression,
    }


def _http_options(target: OtlpTarget) -> dict[str, Any]:
    """Every option of the SDK's HTTP/protobuf exporters (spans and logs take the same)."""
    from opentelemetry.exporter.otlp.proto.http import Compression

    return {
        "endpoint": target.endpoint,
        "certificate_file": _file(target.certificate),
        "client_key_file": _file(target.client_key),
        "client_certificate_file": _file(target.client_certificate),
        "headers": target.headers,
        "timeout": target.timeout_s,
        "compression": Compression.Gzip if target.gzip else Compression.NoCompression,
    }


def _grpc_transport(target: OtlpTarget) -> tuple[bool, Any, Any]:
    """(insecure, channel credentials or None, compression) for a gRPC exporter."""
    import grpc

    insecure = target.insecure
    if insecure is None:  # the specification: the scheme decides when insecure is not set
        insecure = target.endpoint.startswith("http://")
    credentials = None
    if not insecure:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(target.certificate),
            private_key=_read(target.client_key),
            certificate_chain=_read(target.client_certificate),
        )
    compression = grpc.Compression.Gzip if target.gzip else grpc.Compression.NoCompression
    return insecure, credentials, compression


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path is not None else None


DropCounter = Callable[[str, int], None]
"""``dropped(signal, n)``, e.g. :meth:`TelemetryMetrics.dropped`."""


class CountingSpanExporter(SpanExporter):
    """Wraps an OTLP span exporter; a batch it gives up on (after the SDK's retries) is counted
    in ``tickwatch_telemetry_dropped_total{signal="traces"}``."""

    def __init__(self, inner: SpanExporter, dropped: DropCounter) -> None:
        self._inner = inner
        self._dropped = dropped

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self._inner.export(spans)
        if result is not SpanExportResult.SUCCESS:
            self._dropped("traces", len(spans))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


class CountingLogExporter(LogRecordExporter):
    """Wraps an OTLP log exporter; failed batches count as ``{signal="logs"}`` drops."""

    def __init__(self, inner: LogRecordExporter, dropped: DropCounter) -> None:
        self._inner = inner
        self._dropped = dropped

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result = self._inner.export(batch)
        if result is not LogRecordExportResult.SUCCESS:
            self._dropped("logs", len(batch))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return bool(self._inner.force_flush(timeout_millis))
