"""What a local Kafka broker needs before it can start: jars, configuration, formatted storage.

The jars are ordinary Maven artifacts listed in the repository's ``kafka/pom.xml``
(``org.apache.kafka:kafka_2.13`` plus a log4j2 binding); Maven copies them into
``<state_dir>/kafka-libs`` once, from its ``~/.m2`` cache.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from tickwatch.stack.errors import StackError
from tickwatch.stack.kafka_tls import KafkaTlsMaterial
from tickwatch.stack.net import LOOPBACK
from tickwatch.stack.process import require_tool

DEFAULT_POM = Path(__file__).resolve().parents[2] / "kafka" / "pom.xml"
MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
_STAMP = ".resolved-from"
_MVN_TIMEOUT_S = 600.0
_FORMAT_TIMEOUT_S = 120.0

LOG4J2_PROPERTIES = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def resolve_jars(libs_dir: Path, pom: Path = DEFAULT_POM) -> Path:
    """Copy the broker's runtime jars into ``libs_dir`` with Maven unless done for this pom.

    Blocks while Maven runs (seconds from a warm ``~/.m2``). Raises :class:`MissingToolError`
    without ``mvn`` and :class:`StackError` if Maven fails (its output is in the message).
    """
    libs_dir = libs_dir.resolve()  # Maven reads a relative outputDirectory from the pom's folder
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    stamp = libs_dir / _STAMP
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == digest:
        return libs_dir
    mvn = require_tool("mvn", "install Maven (Debian: apt-get install maven)")
    libs_dir.mkdir(parents=True, exist_ok=True)
    argv = [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies"]
    argv.append(f"-DoutputDirectory={libs_dir}")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=_MVN_TIMEOUT_S, check=False)
    if done.returncode != 0 or not any(libs_dir.glob("kafka_2.13-*.jar")):
        raise StackError(f"resolving Kafka jars with Maven failed:\n{done.stdout}\n{done.stderr}")
    stamp.write_text(digest, encoding="utf-8")
    return libs_dir


QUIET_PROPERTIES = {"metadata.max.idle.interval.ms": "5000"}
"""What a one-node local broker does on its own when the feed is quiet (issue 18).

The active KRaft controller appends a no-op record to the metadata log every
``metadata.max.idle.interval.ms`` when nothing else changed, and the broker side replays it (the
raft I/O, controller and metadata-loader threads); with the default 500 ms that was most of an
idle broker's CPU with no client connected (per-thread CPU from ``/proc/<pid>/task``), about a
third less with 5 s. A no-op record only shows the brokers that the controller is alive and their
metadata current; heartbeats and fencing (``broker.heartbeat.interval.ms``) are separate, and a
one-node cluster has no other broker to tell. Tried and not kept: ``num.network.threads`` 1 and
``num.io.threads`` 2 (no difference at idle: the broker's CPU there is per request, not per
thread). compose's broker gets the same (``KAFKA_METADATA_MAX_IDLE_INTERVAL_MS``, a test checks).
"""


@dataclass(frozen=True)
class SecureListeners:
    """Ports and TLS material of the optional SSL (mutual TLS) and SASL_SSL (SCRAM) listeners."""

    ssl_port: int
    sasl_ssl_port: int
    tls: KafkaTlsMaterial


def server_properties(
    data_dir: Path, port: int, controller_port: int, secure: SecureListeners | None = None
) -> str:
    """A one-node KRaft (broker + controller) configuration listening on 127.0.0.1 only.

    ``auto.create.topics.enable=false``: topics are created explicitly (``tickwatch stack up``,
    the test fixtures), so a typo in a topic name fails instead of silently creating a topic.
    With ``secure``, see :func:`secure_listener_properties`.
    """
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{LOOPBACK}:{controller_port}",
        "listeners": f"PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "delete.topic.enable": "true",
        **QUIET_PROPERTIES,
    }
    if secure is not None:
        settings.update(secure_listener_properties(port, controller_port, secure))
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def secure_listener_properties(
    port: int, controller_port: int, secure: SecureListeners
) -> dict[str, str]:
    """Add an ``SSL`` listener (clients must present a certificate the CA signed) and a
    ``SASL_SSL`` listener (SCRAM-SHA-512 over TLS; users are created with the admin API).

    The ``PLAINTEXT`` listener stays, on 127.0.0.1 only: it is the inter-broker listener (one
    node here) and the one the harness uses to create SCRAM users; the ``CONTROLLER`` listener is
    PLAINTEXT on 127.0.0.1 too. No authorizer runs, so an authenticated principal may do anything.
    """
    ssl = f"SSL://{LOOPBACK}:{secure.ssl_port}"
    sasl = f"SASL_SSL://{LOOPBACK}:{secure.sasl_ssl_port}"
    plain = f"PLAINTEXT://{LOOPBACK}:{port}"
    tls = secure.tls
    return {
        "listeners": f"{plain},{ssl},{sasl},CONTROLLER://{LOOPBACK}:{controller_port}",
        "advertised.listeners": f"{plain},{ssl},{sasl}",
        "listener.security.protocol.map": (
            "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
        ),
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(tls.keystore),
        "ssl.keystore.password": tls.store_password,
        "ssl.key.password": tls.store_password,
        "ssl.truststore.type": "PKCS12",
        "ssl.truststore.location": str(tls.truststore),
        "ssl.truststore.password": tls.store_password,
        "listener.name.ssl.ssl.client.auth": "required",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
    }


def new_cluster_id() -> str:
    """A random cluster id in Kafka's format (16 random bytes, URL-safe base64, no padding)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


JVM_OPTIONS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
"""JVM options of a small local broker (issue 18), in place of Kafka's scripts' G1 defaults.

Measured at 200 ticks/s on the 2-core machines (thread CPU from ``/proc/<pid>/task``): the C2
JIT compiler was a third to a half of a fresh broker's CPU for minutes after start, G1's
concurrent and refinement threads another 1 %. The client (C1) compiler alone and the serial
collector cut a fresh broker from 17-35 % to about 9-11 % of a core; a one-node broker with a heap
of a few hundred MB has short young-generation pauses either way. compose's broker gets the
same options (``KAFKA_JVM_PERFORMANCE_OPTS`` in ``.env``).
"""


def java_argv(java: str, libs_dir: Path, log_config: Path, heap_mb: int) -> list[str]:
    """The JVM part of a command line: heap, ``JVM_OPTIONS``, logging configuration and
    classpath."""
    return [
        java,
        f"-Xmx{heap_mb}m",
        f"-Xms{min(heap_mb, 128)}m",
        *JVM_OPTIONS,
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log_config}",
        "-cp",
        f"{libs_dir}/*",
    ]


def format_storage(
    jvm: list[str], config: Path, data_dir: Path, cluster_id: str | None = None
) -> None:
    """Format ``data_dir`` with ``cluster_id`` (default: a new random one), once (skipped if
    already formatted). The nodes of one cluster are formatted with the same id.

    Blocks while the storage tool runs. Raises :class:`StackError` with its output if it fails.
    """
    if (data_dir / "meta.properties").is_file():
        return
    # "--cluster-id=<id>" in one argument: an id may start with "-" (1 in 64), which the tool's
    # argument parser would otherwise take for an option
    argv = [
        *jvm,
        STORAGE_TOOL_CLASS,
        "format",
        f"--cluster-id={cluster_id or new_cluster_id()}",
        "-c",
        str(config),
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=_FORMAT_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise StackError(f"formatting Kafka storage failed:\n{done.stdout}\n{done.stderr}")
