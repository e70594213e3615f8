"""The services a benchmark run talks to: a private Kafka broker and ClickHouse server started
through the local stack's modules in a temporary state directory, or ones already running."""

from __future__ import annotations

import os
from pathlib import Path

from tickwatch.settings import StackSettings
from tickwatch.stack.clickhouse_server import ClickHouseServer
from tickwatch.stack.kafka_broker import KafkaBroker

REPO_ROOT = Path(__file__).resolve().parent.parent


class BenchServices:
    """Kafka and ClickHouse for one run. :meth:`start` blocks until both answer (bounded by the
    stack's ready timeout); :meth:`stop` stops only what this object started."""

    def __init__(
        self,
        state_dir: Path,
        stack: StackSettings,
        *,
        kafka_bootstrap: str = "",
        clickhouse_url: str = "",
    ) -> None:
        self.state_dir = state_dir
        self._stack = stack
        self._kafka: KafkaBroker | None = None
        self._clickhouse: ClickHouseServer | None = None
        self.bootstrap = kafka_bootstrap
        self.clickhouse_url = clickhouse_url

    @property
    def clickhouse_pid(self) -> int | None:
        """The ClickHouse server's pid when this run started it (its CPU time is measured)."""
        return self._clickhouse.pid if self._clickhouse is not None else None

    @property
    def kafka_pid(self) -> int | None:
        """The Kafka broker's pid when this run started it."""
        return self._kafka.pid if self._kafka is not None else None

    @property
    def private(self) -> bool:
        """True when this run started its own broker and server."""
        return self._kafka is not None or self._clickhouse is not None

    def start(self) -> None:
        """Start whatever was not given as a running endpoint."""
        if not self.bootstrap:
            self._kafka = KafkaBroker(
                self.state_dir,
                heap_mb=self._stack.kafka_heap_mb,
                ready_timeout_s=self._stack.ready_timeout_s,
                libs_dir=self._shared_libs_dir(),
            )
            self._kafka.start()
            self.bootstrap = self._kafka.bootstrap
        if not self.clickhouse_url:
            self._clickhouse = ClickHouseServer(
                self.state_dir / "clickhouse-data",
                self.state_dir / "clickhouse",
                log_path=self.state_dir / "logs" / "clickhouse.log",
                ready_timeout_s=self._stack.ready_timeout_s,
            )
            self._clickhouse.start()
            self.clickhouse_url = self._clickhouse.url

    def stop(self) -> None:
        """Stop the broker and server this run started (each bounded in time)."""
        if self._clickhouse is not None:
            self._clickhouse.stop()
        if self._kafka is not None:
            self._kafka.stop()

    def worker_env(self) -> dict[str, str]:
        """Environment for a tickwatch worker: this process's, minus any ``TICKWATCH_*``
        variables (figures are for the defaults), plus the endpoints of this run."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TICKWATCH_")}
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "TICKWATCH_STACK_STATE_DIR": str(self.state_dir),
                "TICKWATCH_KAFKA_BOOTSTRAP": self.bootstrap,
                "TICKWATCH_CLICKHOUSE_URL": self.clickhouse_url,
            }
        )
        return env

    def _shared_libs_dir(self) -> Path:
        """The project's Kafka jar folder (``make setup`` fills it), shared between runs."""
        state = self._stack.state_dir
        return (state if state.is_absolute() else REPO_ROOT / state) / "kafka-libs"
