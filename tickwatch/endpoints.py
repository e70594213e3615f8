"""Where the pipeline's services are: from the settings, else from a local stack's records.

A value set in the settings (``kafka.bootstrap``, ``clickhouse.url``, ``smtp.host``/``port``)
always wins; an empty one means "the local stack". This module never reads the local stack's
file itself: the composition root (``tickwatch.cli``) passes a :class:`LocalAddresses` fallback
(``tickwatch.stack.stackfile.local_addresses``, reading ``<state_dir>/stack.json`` as written by
``tickwatch stack up``), so the workers never import the launcher.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tickwatch.errors import KernelConfigError
from tickwatch.settings import Settings

Record = dict[str, Any]
"""One service as a local stack records it: address fields, ``pid``, ``external``."""

Service = Literal["kafka", "clickhouse", "smtp", "prometheus"]
_SETTING_HINT = {
    "kafka": "TICKWATCH_KAFKA_BOOTSTRAP",
    "clickhouse": "TICKWATCH_CLICKHOUSE_URL",
    "smtp": "TICKWATCH_SMTP_HOST and TICKWATCH_SMTP_PORT",
    "prometheus": "stack.start_prometheus = true and install prometheus",
}


LOCAL_ADDRESSES_KEY = "tickwatch.local_addresses"
"""Where the composition root leaves the :class:`LocalAddresses` in a click context's ``meta``
for sub-command groups (``tickwatch archive``, ``tickwatch backfill``) that live in the packages."""


class EndpointError(KernelConfigError):
    """A required service has no address: neither configured nor started by the local stack."""


@dataclass(frozen=True)
class LocalAddresses:
    """A fallback for addresses the settings leave empty: the records of a local stack.

    ``read`` is called at most once per resolution, and only when some address is missing;
    whatever it raises (an unreadable file) propagates. ``where`` names it in errors.
    """

    where: str
    read: Callable[[], Mapping[str, Record]]


@dataclass(frozen=True)
class Endpoints:
    """Resolved addresses; empty string / 0 / None where a service is unknown."""

    kafka_bootstrap: str
    clickhouse_url: str
    smtp_host: str
    smtp_port: int
    prometheus_url: str
    mail_dir: Path | None
    smtp_ca_cert: Path | None = None


def resolve_endpoints(
    settings: Settings,
    require: Iterable[Service] = ("kafka", "clickhouse"),
    local: LocalAddresses | None = None,
) -> Endpoints:
    """Resolve every address; raise :class:`EndpointError` for a ``require``-d one that is unknown.

    Reads ``local`` only when some address is not in the settings. The error says which
    command to run or which variable to set. Never contacts the services.
    """
    records = _local_stack(settings, local)
    kafka, clickhouse = records.get("kafka", {}), records.get("clickhouse", {})
    smtp, prom = records.get("smtp", {}), records.get("prometheus", {})
    endpoints = Endpoints(
        kafka_bootstrap=settings.kafka.bootstrap or _running(kafka, "bootstrap"),
        clickhouse_url=settings.clickhouse.url or _running(clickhouse, "url"),
        smtp_host=settings.smtp.host or _running(smtp, "host"),
        smtp_port=settings.smtp.port if settings.smtp.host else int(_running(smtp, "port") or 0),
        prometheus_url=_running(prom, "url"),
        mail_dir=_path(smtp.get("mail_dir")) if not settings.smtp.host else None,
        smtp_ca_cert=settings.smtp.ca_cert or _path(smtp.get("ca_cert")),
    )
    _check(endpoints, set(require), local)
    return endpoints


def _local_stack(settings: Settings, local: LocalAddresses | None) -> Mapping[str, Record]:
    needs_file = not (settings.kafka.bootstrap and settings.clickhouse.url and settings.smtp.host)
    return local.read() if needs_file and local is not None else {}


def _running(record: Record, key: str) -> str:
    """The field of a record whose process is recorded as running (or that is external)."""
    if not (record.get("pid") or record.get("external")):
        return ""
    return str(record.get(key) or "")


def _path(value: object) -> Path | None:
    return Path(str(value)) if value else None


def _check(endpoints: Endpoints, required: set[str], local: LocalAddresses | None) -> None:
    present = {
        "kafka": endpoints.kafka_bootstrap,
        "clickhouse": endpoints.clickhouse_url,
        "smtp": endpoints.smtp_host and endpoints.smtp_port,
        "prometheus": endpoints.prometheus_url,
    }
    missing = [name for name in ("kafka", "clickhouse", "smtp", "prometheus") if name in required]
    missing = [name for name in missing if not present[name]]
    if not missing:
        return
    where = f"not running in {local.where}" if local else "no local stack given"
    lines = [f"no address for {', '.join(missing)}: not in the settings, {where}."]
    lines += [
        f"  {name}: run `tickwatch stack up` or set {_SETTING_HINT[name]}" for name in missing
    ]
    raise EndpointError("\n".join(lines))
