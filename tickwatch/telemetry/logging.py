"""Logging: loguru JSON lines on stdout, stdlib logging routed into loguru, logs to ClickHouse/OTLP.

Call :func:`configure_logging` once in each entry point, before anything logs. Every record
carries ``trace_id``/``span_id`` of the OpenTelemetry span current in the logging thread (a
loguru patcher reads them), so a log line can be joined to its trace in Grafana.

:class:`ClickHouseLogSink` is a loguru sink that turns each record into an ``{ops}.otel_logs``
row (the Collector exporter's log layout) and offers it to a bounded exporter channel: it never
blocks the logging thread; when the channel is full the record is dropped and counted in
``tickwatch_telemetry_dropped_total{signal="logs"}``. Records of the exporter itself and of the
ClickHouse/HTTP client libraries are not sent there, so a ClickHouse outage cannot feed itself.
:class:`OtlpLogSink` sends the same records over OTLP when ``OTEL_*`` configuration asks for it.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import orjson
from loguru import logger
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider

from tickwatch.redact import mask_urls
from tickwatch.settings import TelemetrySettings
from tickwatch.telemetry.export import Channel, Row, TableSpec
from tickwatch.telemetry.tracing import span_id_hex, trace_id_hex

if TYPE_CHECKING:
    from loguru import Message, Record

_MAP = "Map(LowCardinality(String), String)"
_LC = "LowCardinality(String)"
LOGS_TABLE = TableSpec(
    "otel_logs",
    (
        ("Timestamp", "DateTime64(9)"), ("TraceId", "String"), ("SpanId", "String"),
        ("TraceFlags", "UInt8"), ("SeverityText", _LC), ("SeverityNumber", "UInt8"),
        ("ServiceName", _LC), ("Body", "String"), ("ResourceSchemaUrl", _LC),
        ("ResourceAttributes", _MAP), ("ScopeSchemaUrl", _LC), ("ScopeName", "String"),
        ("ScopeVersion", _LC), ("ScopeAttributes", _MAP), ("LogAttributes", _MAP),
    ),
)  # fmt: skip

# OpenTelemetry log data model: short severity names and numbers.
SEVERITIES = {
    "TRACE": ("TRACE", 1), "DEBUG": ("DEBUG", 5), "INFO": ("INFO", 9), "SUCCESS": ("INFO", 11),
    "WARNING": ("WARN", 13), "ERROR": ("ERROR", 17), "CRITICAL": ("FATAL", 21),
}  # fmt: skip


def severity_text_sql(levels_sql: str) -> str:
    """ClickHouse SQL mapping the loguru level names in ``levels_sql`` to stored ``SeverityText``.

    ``levels_sql`` is a list of quoted names, e.g. Grafana's ``${level:singlequote}``. Built from
    :data:`SEVERITIES`, the one mapping: the traces-logs dashboard's ClickHouse log panel embeds
    this expression (a test checks it still matches), so choosing WARNING finds the WARN rows.
    Names outside the mapping pass through unchanged.
    """
    names = ", ".join(f"'{name}'" for name in SEVERITIES)
    texts = ", ".join(f"'{text}'" for text, _ in SEVERITIES.values())
    return f"arrayMap(l -> transform(l, [{names}], [{texts}], l), [{levels_sql}])"


_RESERVED = {"service", "trace_id", "span_id", "trace_flags", "telemetry_internal"}
_QUIET_LOGGERS = (
    "clickhouse_connect", "urllib3", "requests", "grpc", "opentelemetry", "tickwatch.telemetry",
)  # fmt: skip
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def configure_logging(service: str, settings: TelemetrySettings, sink: TextIO = sys.stdout) -> None:
    """Route all logging through loguru and write JSON lines to ``sink`` at ``log_level``.

    Replaces every loguru handler configured before (safe to call again, e.g. in tests; call it
    before ``Telemetry.start``, whose ClickHouse sink it would otherwise remove) and installs
    :class:`InterceptHandler` as the only stdlib root handler.
    """
    logger.remove()
    logger.configure(extra={"service": service}, patcher=_patch_record)
    logger.add(_JsonLines(sink), level=settings.log_level, format="{message}")
    logging.basicConfig(handlers=[InterceptHandler()], level=logging.NOTSET, force=True)


def _patch_record(record: Record) -> None:
    add_trace_context(record)
    record["message"] = mask_urls(record["message"])  # no URL password or token in any log


def add_trace_context(record: Record) -> None:
    """loguru patcher: the current span's ids (or "") into ``record["extra"]``."""
    ctx = trace.get_current_span().get_span_context()
    extra = record["extra"]
    extra["trace_id"] = trace_id_hex(ctx.trace_id) if ctx.is_valid else ""
    extra["span_id"] = span_id_hex(ctx.span_id) if ctx.is_valid else ""
    extra["trace_flags"] = int(ctx.trace_flags) if ctx.is_valid else 0


class InterceptHandler(logging.Handler):
    """A stdlib handler that re-emits records through loguru (keeping level and logger name)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(exception=record.exc_info or None).bind(logger=record.name).log(
            level, record.getMessage()
        )


class _JsonLines:
    """loguru sink writing one flat JSON object per record."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, message: Message) -> None:
        self._stream.write(json_line(message.record) + "\n")
        self._stream.flush()


def json_line(record: Record) -> str:
    """The stdout JSON form of a record: time, level, service, message, trace ids, extras."""
    extra = record["extra"]
    doc: dict[str, Any] = {
        "time": record["time"].astimezone(UTC).isoformat(timespec="microseconds"),
        "level": record["level"].name,
        "service": extra.get("service", ""),
        "message": record["message"],
        "trace_id": extra.get("trace_id", ""),
        "span_id": extra.get("span_id", ""),
        "logger": extra.get("logger", record["name"]),
    }
    doc.update({k: v for k, v in extra.items() if k not in _RESERVED and k not in doc})
    if record["exception"] is not None:
        doc["exception"] = _exception_text(record)
    return orjson.dumps(doc, default=str).decode()


class ClickHouseLogSink:
    """A loguru sink that offers each record as an ``otel_logs`` row to ``channel``."""

    def __init__(self, channel: Channel[Row], service: str, resource: Mapping[str, str]) -> None:
        self._channel = channel
        self._service = service
        self._resource = dict(resource)

    def __call__(self, message: Message) -> None:
        self._channel.offer(self.row(message.record))

    @staticmethod
    def accepts(record: Record) -> bool:
        """loguru filter: skip the exporter's own records and the client libraries' records."""
        extra = record["extra"]
        name = str(extra.get("logger", record["name"] or ""))
        return not extra.get("telemetry_internal") and not name.startswith(_QUIET_LOGGERS)

    def row(self, record: Record) -> Row:
        """The ``otel_logs`` row for ``record``; trace ids from the patcher or the current span."""
        extra = record["extra"]
        if "trace_id" not in extra:
            add_trace_context(record)
        text, number = SEVERITIES.get(record["level"].name, (record["level"].name, 9))
        scope = str(extra.get("logger", record["name"] or ""))
        return (
            (record["time"] - _EPOCH) // timedelta(microseconds=1) * 1000,
            extra["trace_id"], extra["span_id"], extra["trace_flags"], text, number,
            self._service, record["message"], "", self._resource, "", scope, "", {},
            _log_attributes(record),
        )  # fmt: skip


class OtlpLogSink:
    """A loguru sink that emits each record through an OpenTelemetry SDK ``LoggerProvider``.

    The provider's batch processor exports over OTLP off the logging thread (bounded queue,
    never blocks). Severity uses :data:`SEVERITIES`, the same mapping as the ClickHouse rows;
    the trace context is the current span's (the SDK reads it), the scope is the logger name.
    Use :meth:`ClickHouseLogSink.accepts` as the filter, so the exporters' own HTTP/gRPC
    records are not exported again.
    """

    def __init__(self, provider: LoggerProvider) -> None:
        self._provider = provider

    def __call__(self, message: Message) -> None:
        record = message.record
        text, number = SEVERITIES.get(record["level"].name, (record["level"].name, 9))
        scope = str(record["extra"].get("logger", record["name"] or ""))
        self._provider.get_logger(scope).emit(
            timestamp=(record["time"] - _EPOCH) // timedelta(microseconds=1) * 1000,
            severity_number=SeverityNumber(number),
            severity_text=text,
            body=record["message"],
            attributes=_log_attributes(record),
        )


def _log_attributes(record: Record) -> dict[str, str]:
    attrs = {k: str(v) for k, v in record["extra"].items() if k not in _RESERVED}
    attrs["code.function"] = record["function"]
    attrs["code.lineno"] = str(record["line"])
    if record["exception"] is not None:
        attrs["exception.stacktrace"] = _exception_text(record)
    return attrs


def _exception_text(record: Record) -> str:
    exc = record["exception"]
    if exc is None or exc.type is None:
        return ""
    return "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))
