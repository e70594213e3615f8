"""The services a fault run breaks on purpose: Kafka and ClickHouse.

``make faults`` starts its own broker and server (through :class:`bench.services.BenchServices`,
i.e. the local stack's modules) so it may kill, stop and restart them. Given running endpoints
(the test harness's) the stack is *attached*: the faults that break Kafka or ClickHouse are then
refused, since other users share those services. Each fault's SMTP server is its lane's own.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from bench.errors import BenchError
from bench.services import BenchServices
from tickwatch.settings import StackSettings
from tickwatch.stack import process
from tickwatch.stack.clickhouse_server import ClickHouseServer
from tickwatch.stack.kafka_broker import KafkaBroker


class FaultStack:
    """Kafka + ClickHouse (own or attached), with the faults' levers.

    Every lever blocks until the service is in the state it names, bounded by the stack's ready
    timeout; :meth:`stop` stops only what this object started (a stopped ClickHouse is
    continued first).
    """

    def __init__(
        self, state_dir: Path, stack: StackSettings, *, kafka_bootstrap: str = "",
        clickhouse_url: str = "",
    ) -> None:  # fmt: skip
        self.state_dir = state_dir
        self._services = BenchServices(
            state_dir, stack, kafka_bootstrap=kafka_bootstrap, clickhouse_url=clickhouse_url
        )
        self._stopped_pid: int | None = None

    @property
    def bootstrap(self) -> str:
        return self._services.bootstrap

    @property
    def clickhouse_url(self) -> str:
        return self._services.clickhouse_url

    @property
    def owns_services(self) -> bool:
        """True when Kafka and ClickHouse are this run's own (so they may be broken)."""
        return self._services.private

    def start(self) -> None:
        self._services.start()

    def stop(self) -> None:
        self.continue_clickhouse()
        self._services.stop()

    # ------------------------------------------------------------------ ClickHouse levers

    def kill_clickhouse(self) -> None:
        """kill -9 the ClickHouse server (its data directory survives)."""
        pid = self._own_clickhouse().pid
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            process.wait_exit(pid, 30.0)

    def start_clickhouse(self) -> None:
        """Start the server again on the same ports and data; blocks until it answers."""
        self._own_clickhouse().start()

    def restart_clickhouse(self) -> None:
        """A clean stop (KILL QUERY, then SIGTERM) and a start."""
        self._own_clickhouse().restart()

    def stop_clickhouse(self) -> None:
        """SIGSTOP: the server keeps its sockets open and answers nothing (a hung server)."""
        pid = self._own_clickhouse().pid
        if pid is None:
            raise BenchError("ClickHouse is not running")
        os.kill(pid, signal.SIGSTOP)
        self._stopped_pid = pid

    def continue_clickhouse(self) -> None:
        """SIGCONT a server stopped by :meth:`stop_clickhouse` (idempotent)."""
        if self._stopped_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._stopped_pid, signal.SIGCONT)
            self._stopped_pid = None

    # ------------------------------------------------------------------ Kafka levers

    def kill_kafka(self) -> None:
        """kill -9 the broker's JVM (its log directory survives; recovery runs at start)."""
        pid = self._own_kafka().pid
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            process.wait_exit(pid, 30.0)

    def start_kafka(self) -> None:
        """Start the broker again (same ports, same data); blocks until metadata answers."""
        self._own_kafka().start()

    def restart_kafka(self) -> None:
        """Controlled shutdown (SIGTERM) and a start."""
        self._own_kafka().restart()

    def _own_clickhouse(self) -> ClickHouseServer:
        server = self._services._clickhouse  # the faults own this server
        if server is None:
            raise BenchError("ClickHouse is attached, not this run's own: it cannot be broken")
        return server

    def _own_kafka(self) -> KafkaBroker:
        broker = self._services._kafka  # the faults own this broker
        if broker is None:
            raise BenchError("Kafka is attached, not this run's own: it cannot be broken")
        return broker
