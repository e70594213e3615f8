"""The local broker's JVM options and quiet properties (issue 18), also in compose."""

from __future__ import annotations

from pathlib import Path

import yaml

from tickwatch.stack import kafka_runtime

REPO = Path(__file__).resolve().parents[3]


def test_the_broker_runs_the_serial_collector_and_the_client_compiler(tmp_path: Path) -> None:
    argv = kafka_runtime.java_argv("java", tmp_path, tmp_path / "log4j2.properties", 256)
    assert argv[:3] == ["java", "-Xmx256m", "-Xms128m"]
    assert "-XX:+UseSerialGC" in argv
    assert "-XX:TieredStopAtLevel=1" in argv
    assert not [a for a in argv if "G1" in a]


def test_compose_broker_gets_the_same_options() -> None:
    lines = (REPO / ".env.example").read_text(encoding="utf-8").splitlines()
    value = next(line.split("=", 1)[1] for line in lines if line.startswith("KAFKA_JVM_PERF"))
    assert value.split() == list(kafka_runtime.JVM_OPTIONS)
    assert "KAFKA_JVM_PERFORMANCE_OPTS: ${KAFKA_JVM_PERFORMANCE_OPTS:?" in (
        REPO / "docker-compose.yml"
    ).read_text(encoding="utf-8")


def test_the_broker_writes_a_metadata_no_op_record_every_5_s(tmp_path: Path) -> None:
    properties = kafka_runtime.server_properties(tmp_path, 9092, 9093).splitlines()
    assert "metadata.max.idle.interval.ms=5000" in properties
    assert kafka_runtime.QUIET_PROPERTIES == {"metadata.max.idle.interval.ms": "5000"}


def test_compose_broker_gets_the_same_no_op_interval() -> None:
    main = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    env = main["services"]["kafka"]["environment"]
    for key, value in kafka_runtime.QUIET_PROPERTIES.items():
        assert env["KAFKA_" + key.upper().replace(".", "_")] == value
