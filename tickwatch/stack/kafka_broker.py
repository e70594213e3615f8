"""A one-node Apache Kafka 4.1 broker (KRaft combined mode) in its own JVM process.

Layout under ``state_dir``: ``kafka-libs/`` (jars), ``kafka/`` (``server.properties``,
``log4j2.properties``, ``ports.json``), ``kafka-data/`` (the log directory, formatted once) and
``logs/kafka.log`` (the broker's output); with ``secure=True`` also ``kafka-tls/`` (CA, keystores,
client certificate; ``server.properties`` then holds the store password and is owner-only).
Ports chosen once are kept in ``ports.json`` and reused while free, so a restart normally keeps
the same bootstrap address; the data is kept either way.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from confluent_kafka.admin import (  # type: ignore[attr-defined]  # public, but not in __all__
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from tickwatch.stack import kafka_runtime, process
from tickwatch.stack.errors import ComponentExitedError, ReadinessTimeoutError
from tickwatch.stack.kafka_tls import KafkaTlsMaterial, ensure_kafka_tls
from tickwatch.stack.net import (
    LOOPBACK,
    accepts_connections,
    ensure_port_free,
    free_port,
    reusable,
)

_SCRAM_ITERATIONS = 8192  # Kafka's minimum is 4096
JAVA_HINT = "install a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)"


def metadata_answers(bootstrap: str, timeout_s: float = 3.0) -> bool:
    """True when the broker at ``bootstrap`` returns cluster metadata listing a broker."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception:  # KafkaException while the broker is not up; any failure means "not yet"
        return False
    return bool(metadata.brokers)


class KafkaBroker:
    """Start, stop and restart a local broker; its data stays in ``state_dir/kafka-data``.

    ``libs_dir`` lets several state directories share one copy of the jars. An instance can
    also take over a broker started earlier by passing its ``pid``. With ``secure=True`` it also
    listens with ``SSL`` (mutual TLS) and ``SASL_SSL`` (SCRAM-SHA-512), with TLS material made
    for this state directory (``state_dir/kafka-tls``, see :mod:`tickwatch.stack.kafka_tls`).
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        port: int = 0,
        controller_port: int = 0,
        heap_mb: int = 512,
        ready_timeout_s: float = 90.0,
        pom: Path = kafka_runtime.DEFAULT_POM,
        libs_dir: Path | None = None,
        pid: int | None = None,
        secure: bool = False,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.config_dir = self.state_dir / "kafka"
        self.data_dir = self.state_dir / "kafka-data"
        self.libs_dir = (libs_dir or self.state_dir / "kafka-libs").resolve()
        self.log_path = self.state_dir / "logs" / "kafka.log"
        self.port = port
        self.controller_port = controller_port
        self.heap_mb = heap_mb
        self.ready_timeout_s = ready_timeout_s
        self.pom = pom
        self._pid = pid
        self._child: subprocess.Popen[bytes] | None = None
        self.secure = secure
        self.ssl_port = 0
        self.sasl_ssl_port = 0
        self.tls: KafkaTlsMaterial | None = None

    @property
    def bootstrap(self) -> str:
        """``127.0.0.1:<port>``, the address clients connect to."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def ssl_bootstrap(self) -> str:
        """The SSL (mutual TLS) listener's address; only with ``secure=True``."""
        return f"{LOOPBACK}:{self.ssl_port}"

    @property
    def sasl_ssl_bootstrap(self) -> str:
        """The SASL_SSL (SCRAM-SHA-512) listener's address; only with ``secure=True``."""
        return f"{LOOPBACK}:{self.sasl_ssl_port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs, else None."""
        return self._pid if process.is_running(self._pid) else None

    def start(self) -> None:
        """Prepare (jars, config, storage) and start the broker; block until metadata answers.

        Does nothing if this instance's broker already runs. Raises ``MissingToolError`` (no
        java / mvn), ``PortInUseError``, ``ComponentExitedError`` (the JVM ended while
        starting) or ``ReadinessTimeoutError`` after ``ready_timeout_s`` (broker then stopped);
        the last two carry the tail of the broker log.
        """
        if self.pid is not None:
            return
        java = process.require_tool("java", JAVA_HINT)
        kafka_runtime.resolve_jars(self.libs_dir, self.pom)
        self._choose_ports()
        ensure_port_free(self.port, "kafka broker")
        ensure_port_free(self.controller_port, "kafka controller")
        if self.secure:
            ensure_port_free(self.ssl_port, "kafka ssl listener")
            ensure_port_free(self.sasl_ssl_port, "kafka sasl_ssl listener")
            self.tls = ensure_kafka_tls(self.state_dir / "kafka-tls")
        jvm = self._write_config(java)
        kafka_runtime.format_storage(jvm, self.config_dir / "server.properties", self.data_dir)
        argv = [*jvm, kafka_runtime.MAIN_CLASS, str(self.config_dir / "server.properties")]
        self._child = process.spawn(argv, self.log_path, cwd=self.state_dir)
        self._pid = self._child.pid
        self._wait_ready()

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM (controlled shutdown), up to ``grace_s`` later SIGKILL; blocks until gone."""
        process.terminate(self.pid, grace_s)
        if self._child is not None:
            self._child.poll()
        self._child = None
        self._pid = None

    def restart(self) -> None:
        """Stop and start again with the same ports and data."""
        self.stop()
        self.start()

    def _choose_ports(self) -> None:
        saved = self._saved_ports()
        self.port = self.port or reusable(saved.get("port")) or free_port()
        self.controller_port = self.controller_port or reusable(saved.get("controller_port"))
        while not self.controller_port or self.controller_port == self.port:
            self.controller_port = free_port()
        if self.secure:
            taken = {self.port, self.controller_port}
            self.ssl_port = self.ssl_port or reusable(saved.get("ssl_port")) or 0
            while not self.ssl_port or self.ssl_port in taken:
                self.ssl_port = free_port()
            taken.add(self.ssl_port)
            self.sasl_ssl_port = self.sasl_ssl_port or reusable(saved.get("sasl_ssl_port")) or 0
            while not self.sasl_ssl_port or self.sasl_ssl_port in taken:
                self.sasl_ssl_port = free_port()

    def _saved_ports(self) -> dict[str, int]:
        try:
            data = json.loads((self.config_dir / "ports.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {key: int(value) for key, value in data.items()}

    def _write_config(self, java: str) -> list[str]:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = {"port": self.port, "controller_port": self.controller_port}
        secure = None
        if self.secure and self.tls is not None:
            ports |= {"ssl_port": self.ssl_port, "sasl_ssl_port": self.sasl_ssl_port}
            secure = kafka_runtime.SecureListeners(self.ssl_port, self.sasl_ssl_port, self.tls)
        (self.config_dir / "ports.json").write_text(json.dumps(ports), encoding="utf-8")
        properties = kafka_runtime.server_properties(
            self.data_dir, self.port, self.controller_port, secure
        )
        properties_file = self.config_dir / "server.properties"
        properties_file.write_text(properties, encoding="utf-8")
        properties_file.chmod(0o600)  # holds the keystore password when secure
        log_config = self.config_dir / "log4j2.properties"
        log_config.write_text(kafka_runtime.LOG4J2_PROPERTIES, encoding="utf-8")
        return kafka_runtime.java_argv(java, self.libs_dir, log_config, self.heap_mb)

    def create_scram_user(self, username: str, password: str, timeout_s: float = 30.0) -> None:
        """Create or replace a SCRAM-SHA-512 user with the admin API, over the PLAINTEXT listener.

        Blocks until the broker confirmed it. Raises ``KafkaException`` if it refused.
        """
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        upsert = UserScramCredentialUpsertion(
            username,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, _SCRAM_ITERATIONS),
            password.encode(),
        )
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=timeout_s)

    def _ready(self) -> bool:
        return accepts_connections(self.port) and metadata_answers(self.bootstrap)

    def _wait_ready(self) -> None:
        outcome = process.await_ready(self._pid, self._ready, self.ready_timeout_s, 0.5)
        if outcome == "ready":
            return
        tail = process.log_tail(self.log_path)
        if outcome == "exited":
            self._child, self._pid = None, None
            raise ComponentExitedError(f"kafka exited while starting; log tail:\n{tail}")
        self.stop()
        raise ReadinessTimeoutError(
            f"kafka did not answer metadata requests at {self.bootstrap} within "
            f"{self.ready_timeout_s:.0f}s; log {self.log_path}:\n{tail}"
        )


def main(argv: list[str] | None = None) -> int:
    """Start a detached broker for ``--state-dir`` and print its bootstrap address and pid."""
    parser = argparse.ArgumentParser(description="Start a local single-node Kafka broker.")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--heap-mb", type=int, default=512)
    parser.add_argument(
        "--fetch-jars", action="store_true", help="only resolve the broker's jars, then exit"
    )
    parser.add_argument(
        "--secure", action="store_true", help="add SSL (mutual TLS) and SASL_SSL listeners"
    )
    args = parser.parse_args(argv)
    if args.fetch_jars:
        libs = kafka_runtime.resolve_jars(args.state_dir / "kafka-libs")
        print(f"kafka jars in {libs}")
        return 0
    broker = KafkaBroker(args.state_dir, port=args.port, heap_mb=args.heap_mb, secure=args.secure)
    broker.start()
    print(f"kafka bootstrap={broker.bootstrap} pid={broker.pid}")
    if broker.tls is not None:  # users: create_scram_user, or the admin API on the bootstrap
        print(f"kafka ssl={broker.ssl_bootstrap} sasl_ssl={broker.sasl_ssl_bootstrap} "
              f"tls={broker.tls.directory}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
