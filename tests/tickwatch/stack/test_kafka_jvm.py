"""The local broker's JVM options (issue 18): serial GC and client compiler, also in compose."""

from __future__ import annotations

from pathlib import Path

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
