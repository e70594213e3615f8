"""An N-broker Apache Kafka KRaft cluster on loopback: N JVMs, each broker + controller.

Node ``i`` (1-based) lives in ``<base>/kafka-<i>/`` (``kafka/`` configuration, ``kafka-data/`` log
directory, ``logs/kafka.log``) with its own client and controller ports; all nodes are voters of
one controller quorum (``controller.quorum.voters``) and are formatted with one cluster id (kept
in ``<base>/cluster-id``). Internal topics get replication factor ``min(3, N)``; the broker
default ``min.insync.replicas`` is 2 when there are 3 or more brokers, so ``acks=all`` producers
survive one broker down and refuse writes with two down instead of losing them. Heaps are small
(``heap_mb`` each): three brokers fit the 2-core / 24 GB machines.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import psutil

from tickwatch.stack import kafka_runtime, process
from tickwatch.stack.errors import ComponentExitedError, ReadinessTimeoutError
from tickwatch.stack.kafka_broker import JAVA_HINT, metadata_answers
from tickwatch.stack.net import LOOPBACK, accepts_connections, ensure_port_free, free_port

CONTROLLER_RF = 3


def cluster_properties(
    node_id: int, data_dir: Path, ports: list[tuple[int, int]]
) -> dict[str, str]:
    """``server.properties`` of node ``node_id`` in a cluster whose nodes listen on ``ports``
    (``(client, controller)`` per node, node ``i`` at index ``i - 1``)."""
    port, controller = ports[node_id - 1]
    voters = ",".join(f"{i + 1}@{LOOPBACK}:{c}" for i, (_, c) in enumerate(ports))
    replicas = str(min(CONTROLLER_RF, len(ports)))
    min_isr = "2" if len(ports) >= 3 else "1"
    return {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller}",
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "default.replication.factor": replicas,
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "min.insync.replicas": min_isr,
        "unclean.leader.election.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
    }


class ClusterNode:
    """One broker + controller JVM of a :class:`KafkaCluster`; data survives restarts."""

    def __init__(self, cluster: KafkaCluster, node_id: int) -> None:
        self.cluster = cluster
        self.node_id = node_id
        self.root = cluster.base / f"kafka-{node_id}"
        self.config_dir = self.root / "kafka"
        self.data_dir = self.root / "kafka-data"
        self.log_path = self.root / "logs" / "kafka.log"
        self._child: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None

    @property
    def port(self) -> int:
        return self.cluster.ports[self.node_id - 1][0]

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The JVM's process id while it runs, else None."""
        return self._pid if process.is_running(self._pid) else None

    def start(self, wait: bool = True) -> None:
        """Write the configuration, format once, start the JVM; with ``wait``, block until this
        broker answers metadata (a quorum needs a majority of nodes up, so start them all first).
        """
        if self.pid is not None:
            return
        port, controller = self.cluster.ports[self.node_id - 1]
        ensure_port_free(port, f"kafka node {self.node_id} broker")
        ensure_port_free(controller, f"kafka node {self.node_id} controller")
        jvm = self._write_config()
        properties = self.config_dir / "server.properties"
        kafka_runtime.format_storage(jvm, properties, self.data_dir, self.cluster.cluster_id)
        argv = [*jvm, kafka_runtime.MAIN_CLASS, str(properties)]
        self._child = process.spawn(argv, self.log_path, cwd=self.root)
        self._pid = self._child.pid
        if wait:
            self.wait_ready()

    def stop(self, grace_s: float = 30.0) -> None:
        """SIGTERM (controlled shutdown: leadership moves away first), SIGKILL after ``grace_s``."""
        process.terminate(self.pid, grace_s)
        self._forget()

    def kill(self) -> None:
        """SIGKILL: the broker dies with no controlled shutdown; blocks until it is gone."""
        pid = self.pid
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
            process.wait_exit(pid, 10.0)
        self._forget()

    def wait_ready(self) -> None:
        """Block until this broker answers metadata; raises as :class:`KafkaCluster` documents."""
        outcome = process.await_ready(self._pid, self._ready, self.cluster.ready_timeout_s, 0.5)
        if outcome == "ready":
            return
        tail = process.log_tail(self.log_path)
        if outcome == "exited":
            self._forget()
            raise ComponentExitedError(f"kafka node {self.node_id} exited; log tail:\n{tail}")
        raise ReadinessTimeoutError(
            f"kafka node {self.node_id} did not answer at {self.bootstrap} within "
            f"{self.cluster.ready_timeout_s:.0f}s; log {self.log_path}:\n{tail}"
        )

    def _ready(self) -> bool:
        return accepts_connections(self.port) and metadata_answers(self.bootstrap)

    def _forget(self) -> None:
        if self._child is not None:
            self._child.poll()
        self._child, self._pid = None, None

    def _write_config(self) -> list[str]:
        java = process.require_tool("java", JAVA_HINT)
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = cluster_properties(self.node_id, self.data_dir, self.cluster.ports)
        text = "".join(f"{key}={value}\n" for key, value in props.items())
        (self.config_dir / "server.properties").write_text(text, encoding="utf-8")
        log_config = self.config_dir / "log4j2.properties"
        log_config.write_text(kafka_runtime.LOG4J2_PROPERTIES, encoding="utf-8")
        return kafka_runtime.java_argv(
            java, self.cluster.libs_dir, log_config, self.cluster.heap_mb
        )


class KafkaCluster:
    """Start and stop ``brokers`` nodes under ``base``; ports chosen once, kept in ``ports.json``.

    :meth:`start` raises ``MissingToolError`` (no java / mvn), ``PortInUseError``,
    ``ComponentExitedError`` or ``ReadinessTimeoutError`` (with the node's log tail).
    """

    def __init__(
        self,
        base: Path,
        brokers: int = 3,
        *,
        heap_mb: int = 256,
        ready_timeout_s: float = 120.0,
        libs_dir: Path | None = None,
        pom: Path = kafka_runtime.DEFAULT_POM,
    ) -> None:
        self.base = base.resolve()
        self.libs_dir = (libs_dir or self.base / "kafka-libs").resolve()
        self.heap_mb = heap_mb
        self.ready_timeout_s = ready_timeout_s
        self.pom = pom
        self.ports = self._ports(brokers)
        self.cluster_id = self._cluster_id()
        self.nodes = [ClusterNode(self, i + 1) for i in range(brokers)]

    @property
    def bootstrap(self) -> str:
        """Every broker's address, comma-separated (what clients are given)."""
        return ",".join(node.bootstrap for node in self.nodes)

    def start(self) -> None:
        """Start every node, then block until each answers metadata."""
        kafka_runtime.resolve_jars(self.libs_dir, self.pom)
        for node in self.nodes:
            node.start(wait=False)
        try:
            for node in self.nodes:
                node.wait_ready()
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every node (controlled shutdown each); blocks until all are gone."""
        for node in reversed(self.nodes):
            node.stop()

    def node(self, broker_id: int) -> ClusterNode:
        """The node whose ``node.id`` (= Kafka broker id) is ``broker_id``."""
        return self.nodes[broker_id - 1]

    def _ports(self, brokers: int) -> list[tuple[int, int]]:
        saved = self.base / "ports.json"
        try:
            ports = [tuple(p) for p in json.loads(saved.read_text(encoding="utf-8"))]
            if len(ports) == brokers:
                return [(int(a), int(b)) for a, b in ports]
        except (OSError, ValueError):
            pass
        chosen: list[int] = []
        while len(chosen) < 2 * brokers:
            port = free_port()
            if port not in chosen:
                chosen.append(port)
        pairs = [(chosen[2 * i], chosen[2 * i + 1]) for i in range(brokers)]
        self.base.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(pairs), encoding="utf-8")
        return pairs

    def _cluster_id(self) -> str:
        path = self.base / "cluster-id"
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
        cluster_id = kafka_runtime.new_cluster_id()
        path.write_text(cluster_id, encoding="utf-8")
        return cluster_id
