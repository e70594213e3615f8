"""What the scenarios of one run share: options, services, names, and the pre-filled topic."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

import psutil

from bench.deadline import Deadline
from bench.options import BenchOptions
from bench.prefill import PrefilledTopic, prefill
from bench.services import BenchServices
from bench.tape import TradeTape
from bench.topics import TopicSet
from bench.warehouse import BenchDatabases, Warehouse
from bench.worker import WorkerProcess
from tickwatch.stack.net import free_port

# Event times of the pre-filled trades start this long before the pre-fill, well inside the
# load worker's accepted window (LoadSettings.max_past_s).
TAPE_LEAD_S = 120


class BenchContext:
    """Shared state of one run. Names (topics, databases, consumer groups) carry ``run_id`` so
    several runs against the same services never see each other's data."""

    def __init__(
        self,
        options: BenchOptions,
        services: BenchServices,
        warehouse: Warehouse,
        run_id: str,
        started_us: int,
    ) -> None:
        self.options = options
        self.services = services
        self.warehouse = warehouse
        self.run_id = run_id
        self._started_us = started_us
        self._prefilled: PrefilledTopic | None = None
        self.memo: dict[str, object] = {}

    def name(self, what: str) -> str:
        """An identifier unique to this run, usable as a database or group name."""
        return f"bench_{self.run_id}_{what}"

    def topics(self, what: str) -> TopicSet:
        """A fresh, created set of topics for ``what``."""
        topics = TopicSet(f"bench.{self.run_id}.{what}")
        topics.create(self.services.bootstrap, self.options.partitions)
        return topics

    def log_path(self, what: str) -> Path:
        return self.services.state_dir / "logs" / f"{what}.log"

    def prefilled(self, deadline: Deadline) -> PrefilledTopic:
        """The trades topic holding ``options.trades`` records; filled on first use (seeded)."""
        if self._prefilled is None:
            topics = self.topics("prefilled")
            self._prefilled = prefill(self.services.bootstrap, topics, self.tape(), deadline)
        return self._prefilled

    def tape(self) -> TradeTape:
        """The seeded tape the trades topic is (or would be) pre-filled with."""
        return TradeTape(
            self.options.trades,
            self.options.seed,
            self.options.symbols,
            self._started_us - TAPE_LEAD_S * 1_000_000,
        )

    @property
    def prefill_result(self) -> PrefilledTopic | None:
        """The pre-fill, if a scenario needed it."""
        return self._prefilled

    def worker(
        self,
        command: str,
        what: str,
        *,
        topics: TopicSet,
        databases: BenchDatabases,
        extra: Mapping[str, str] | None = None,
        group: str = "",
    ) -> WorkerProcess:
        """A (not yet started) ``tickwatch <command>`` worker wired to this run's services;
        its consumer group is ``group``, by default one named after ``what``."""
        env = self.services.worker_env()
        env.update(topics.env())
        env.update(databases.env())
        env.update(
            {
                "TICKWATCH_KAFKA_CONSUMER_GROUP": group or self.name(what),
                "TICKWATCH_KAFKA_PARTITIONS": str(self.options.partitions),
                "TICKWATCH_LOAD_METRICS_PORT": str(free_port()),
                "TICKWATCH_INGEST_METRICS_PORT": str(free_port()),
                "TICKWATCH_MONITOR_METRICS_PORT": str(free_port()),
            }
        )
        env.update(extra or {})
        return WorkerProcess(command, env, self.log_path(what), self.services.state_dir)


class ServerCpu:
    """CPU seconds the ClickHouse server spends from now on (None when its pid is unknown)."""

    def __init__(self, pid: int | None) -> None:
        self._proc: psutil.Process | None = None
        self._start = 0.0
        with contextlib.suppress(psutil.Error, ValueError):
            if pid:
                self._proc = psutil.Process(pid)
                self._start = _cpu_s(self._proc)

    def used(self) -> float | None:
        """CPU seconds since construction, or None."""
        if self._proc is None:
            return None
        with contextlib.suppress(psutil.Error):
            return _cpu_s(self._proc) - self._start
        return None


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)
