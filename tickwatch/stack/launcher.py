"""``LocalStack``: bring the whole local stack up, report on it, take it down.

Order: ClickHouse, Kafka, Prometheus (if enabled and installed), the mail server; then the
pipeline topics. A component given in the settings (``kafka.bootstrap``, ``clickhouse.url``,
``smtp.host``) is recorded as external and used instead of started. Every started process is
detached (it outlives ``tickwatch stack up``), logs under ``<state_dir>/logs/`` and is recorded
in ``<state_dir>/stack.json`` right after it is ready, so ``down`` can always find it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tickwatch.settings import Settings
from tickwatch.stack import components, process, s3_server, stackfile
from tickwatch.stack.errors import StackError
from tickwatch.stack.prometheus import INSTALL_HINT, find_binary
from tickwatch.stack.stackfile import COMPONENTS, Record
from tickwatch.topics import TopicAdminError, create_pipeline_topics


@dataclass(frozen=True)
class ComponentStatus:
    """One line of ``tickwatch stack status``."""

    name: str
    address: str
    pid: int | None
    healthy: bool
    external: bool
    log: str | None
    note: str = ""


class LocalStack:
    """The local stack described by ``settings`` (state under ``settings.stack.state_dir``)."""

    def __init__(
        self, settings: Settings, *, extra_scrape_targets: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self.settings = settings
        self.state_dir = settings.stack.state_dir.resolve()
        self.extra_scrape_targets = dict(extra_scrape_targets or {})

    def up(self) -> dict[str, Record]:
        """Start every component that is not running yet, then create the topics; idempotent.

        Blocks until each started component answers (``stack.ready_timeout_s`` each). Raises
        :class:`StackError` (or a subclass) naming the component; components already started
        keep running and are recorded, so ``down`` stops them.
        """
        records = stackfile.read(self.state_dir)
        for name in COMPONENTS:
            try:
                records[name] = self._bring_up(name, records.get(name, {}))
            except StackError as exc:
                hint = "components started so far keep running: `tickwatch stack down` stops them"
                raise type(exc)(f"{name}: {exc}\n{hint}") from exc
            stackfile.write(self.state_dir, records)
        try:
            self._create_topics(records["kafka"])
        except TopicAdminError as exc:
            raise StackError(f"kafka topics: {exc}") from exc
        return records

    def down(self) -> list[str]:
        """Stop the components this stack started; returns their names. Blocks until all are gone.

        External components are left alone. ``stack.json`` is kept (pids cleared) so the next
        ``up`` reuses the same ports and data.
        """
        records = stackfile.read(self.state_dir)
        stopped = []
        for name in reversed(COMPONENTS):
            record = records.get(name)
            if record is None or record.get("external") or not record.get("pid"):
                continue
            components.stop(name, record)
            record["pid"] = None
            stopped.append(name)
            stackfile.write(self.state_dir, records)
        return stopped

    def status(self) -> list[ComponentStatus]:
        """What runs where, with a network health probe of each (a few seconds at most each)."""
        records = stackfile.read(self.state_dir)
        return [_status(name, records[name]) for name in COMPONENTS if name in records]

    def _bring_up(self, name: str, previous: Record) -> Record:
        external = self._external(name)
        if external is not None:
            return external
        if _still_running(previous):
            return previous
        skipped = self._skip_reason(name)
        if skipped:
            return {"skipped": skipped, "pid": None, "log": None}
        record = self._start(name, previous)
        record["started_at"] = process.started_at(record.get("pid"))
        return record

    def _start(self, name: str, previous: Record) -> Record:
        settings, state_dir = self.settings, self.state_dir
        if name == "clickhouse":
            return components.start_clickhouse(settings, state_dir, previous)
        if name == "kafka":
            return components.start_kafka(settings, state_dir, previous)
        if name == "prometheus":
            extra = self.extra_scrape_targets
            return components.start_prometheus(settings, state_dir, previous, extra)
        if name == "s3":
            return components.start_s3(settings, state_dir, previous)
        return components.start_smtp(settings, state_dir, previous)

    def _external(self, name: str) -> Record | None:
        settings = self.settings
        given: Record | None = None
        if name == "kafka" and settings.kafka.bootstrap:
            given = {"bootstrap": settings.kafka.bootstrap}
        elif name == "clickhouse" and settings.clickhouse.url:
            given = {"url": settings.clickhouse.url}
        elif name == "smtp" and settings.smtp.host:
            given = {"host": settings.smtp.host, "port": settings.smtp.port}
        elif name == "s3" and settings.archive.endpoint:
            given = {"endpoint": settings.archive.endpoint, "url": settings.archive.endpoint}
        if given is None:
            return None
        return {**given, "external": True, "pid": None, "log": None}

    def _skip_reason(self, name: str) -> str:
        if name == "prometheus":
            if not self.settings.stack.start_prometheus:
                return "disabled (stack.start_prometheus = false)"
            try:
                find_binary()
            except StackError:
                return INSTALL_HINT
        if name == "smtp" and not self.settings.stack.start_smtp:
            return "disabled (stack.start_smtp = false)"
        if name == "s3":
            return s3_server.skip_reason(self.settings.stack.start_s3, self.state_dir / "bin")
        return ""

    def _create_topics(self, kafka: Record) -> None:
        bootstrap = str(kafka.get("bootstrap", ""))
        brokers = int(kafka.get("brokers") or 1)
        # the local broker is a single node; a local cluster: replication 3, min ISR 2
        replication = None if kafka.get("external") else min(3, brokers)
        min_isr = None if kafka.get("external") else (2 if brokers >= 3 else 0)
        create_pipeline_topics(
            self.settings.kafka,
            bootstrap,
            replication_factor=replication,
            min_insync_replicas=min_isr,
            timeout_s=self.settings.stack.ready_timeout_s,
        )


def _still_running(record: Record) -> bool:
    if record.get("external") or not record.get("pid"):
        return False
    return components.is_same_process(record)


def _status(name: str, record: Record) -> ComponentStatus:
    external = bool(record.get("external"))
    pid = record.get("pid") if _still_running(record) else None
    probe = external or pid is not None
    return ComponentStatus(
        name=name,
        address=components.address(name, record),
        pid=pid,
        healthy=probe and components.healthy(name, record),
        external=external,
        log=record.get("log"),
        note=str(record.get("skipped", "")),
    )


def state_file(settings: Settings) -> Path:
    """Where ``stack.json`` is for these settings."""
    return stackfile.path_in(settings.stack.state_dir.resolve())
