"""The Kafka jars resolve wherever the state directory is given from (``make setup`` passes
a relative ``.tickwatch``; Maven would read that relative to the pom's own folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tickwatch.stack.kafka_runtime import resolve_jars


def test_relative_libs_dir_is_resolved_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    libs = resolve_jars(Path("state") / "kafka-libs")
    assert libs == tmp_path / "state" / "kafka-libs"
    assert any(libs.glob("kafka_2.13-*.jar"))
    assert resolve_jars(Path("state") / "kafka-libs") == libs  # second call: stamp, no Maven
