"""The local Kafka broker: start, produce/consume, restart with data kept, clear errors."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from tickwatch.stack import kafka_runtime, process
from tickwatch.stack.errors import MissingToolError, PortInUseError, ReadinessTimeoutError
from tickwatch.stack.kafka_broker import KafkaBroker, metadata_answers
from tickwatch.stack.net import LOOPBACK
from tickwatch.topics import create_topics, delete_topics, existing_topics

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
SHARED_LIBS = Path(os.environ.get("TICKWATCH_TEST_KAFKA_LIBS", "/tmp/tickwatch-kafka-libs"))  # noqa: S108


def _produce_and_count(bootstrap: str, topic: str, produce: int, expected: int) -> int:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(produce):
        producer.produce(topic, key=b"AAPL", value=str(i).encode())
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"count-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    seen = 0
    try:
        for _ in range(60):  # bounded: at most 60 polls of 1 s
            seen += len(consumer.consume(num_messages=1000, timeout=1.0))
            if seen >= expected:
                break
    finally:
        consumer.close()
    return seen


def test_start_restart_stop(tmp_path: Path) -> None:
    """One broker through its whole life (each JVM start costs seconds of CPU)."""
    broker = KafkaBroker(tmp_path, libs_dir=SHARED_LIBS, ready_timeout_s=180)
    broker.start()
    try:
        _check_configuration(broker)
        _check_topics_survive_restart(broker)
    finally:
        pid = broker.pid
        broker.stop()
    assert not process.is_running(pid)
    assert broker.pid is None
    assert not metadata_answers(broker.bootstrap, timeout_s=1)


def _check_configuration(broker: KafkaBroker) -> None:
    properties = (broker.config_dir / "server.properties").read_text()
    assert "process.roles=broker,controller" in properties
    assert f"listeners=PLAINTEXT://127.0.0.1:{broker.port}," in properties
    assert "auto.create.topics.enable=false" in properties
    assert (broker.data_dir / "meta.properties").is_file()
    assert broker.log_path.stat().st_size > 0


def _check_topics_survive_restart(broker: KafkaBroker) -> None:
    config = {"bootstrap.servers": broker.bootstrap}
    assert create_topics(config, ["kept"], partitions=2) == ["kept"]
    assert create_topics(config, ["kept"], partitions=2) == []  # already there: fine
    assert _produce_and_count(broker.bootstrap, "kept", 100, 100) == 100
    bootstrap, pid = broker.bootstrap, broker.pid
    broker.restart()
    assert broker.bootstrap == bootstrap
    assert not process.is_running(pid)
    assert "kept" in existing_topics(config)
    assert _produce_and_count(broker.bootstrap, "kept", 1, 101) == 101
    delete_topics(config, ["kept"])


def test_missing_java_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match=r"`java` was not found.*install a Java"):
        KafkaBroker(tmp_path, libs_dir=SHARED_LIBS).start()


def test_missing_maven_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError, match=r"`mvn` was not found.*install Maven"):
        kafka_runtime.resolve_jars(tmp_path / "empty-libs")


def test_port_in_use_is_explained(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"kafka broker: port 127.0.0.1:{taken}"):
            KafkaBroker(tmp_path, port=taken, libs_dir=SHARED_LIBS).start()


def test_readiness_timeout_shows_the_log(tmp_path: Path) -> None:
    impatient = KafkaBroker(tmp_path, libs_dir=SHARED_LIBS, ready_timeout_s=0.01)
    with pytest.raises(ReadinessTimeoutError, match="did not answer metadata requests") as info:
        impatient.start()
    assert str(impatient.log_path) in str(info.value)
    assert impatient.pid is None
