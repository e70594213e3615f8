"""Settings: environment, TOML file, precedence, error messages, secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tickwatch.settings import ConfigError, Settings, load_settings

pytestmark = pytest.mark.usefixtures("isolated_env")


def test_defaults_work_on_the_local_stack() -> None:
    settings = load_settings()
    assert settings.kafka.bootstrap == ""
    assert settings.clickhouse.url == ""
    assert settings.stack.state_dir == Path(".tickwatch")
    assert settings.ingest.metrics_port == 9101


def test_environment_variables_fill_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKWATCH_KAFKA_BOOTSTRAP", "broker:9092")
    monkeypatch.setenv("TICKWATCH_LOAD_BATCH_MAX_ROWS", "1234")
    monkeypatch.setenv("TICKWATCH_SMTP_RECIPIENTS", "a@x, b@x")
    settings = load_settings()
    assert settings.kafka.bootstrap == "broker:9092"
    assert settings.load.batch_max_rows == 1234
    assert settings.smtp.recipient_list == ["a@x", "b@x"]


def test_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "tickwatch.toml"
    config.write_text('[kafka]\nbootstrap = "k:1"\npartitions = 3\n[monitor]\nlag_window = 7\n')
    settings = load_settings(config)
    assert settings.kafka.bootstrap == "k:1"
    assert settings.kafka.partitions == 3
    assert settings.monitor.lag_window == 7


def test_environment_beats_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "tickwatch.toml"
    config.write_text('[kafka]\nbootstrap = "from-file:1"\ntopic_dlq = "file.dlq"\n')
    monkeypatch.setenv("TICKWATCH_KAFKA_BOOTSTRAP", "from-env:1")
    settings = load_settings(config)
    assert settings.kafka.bootstrap == "from-env:1"
    assert settings.kafka.topic_dlq == "file.dlq"


def test_dotenv_file_in_working_directory(isolated_env: Path) -> None:
    (isolated_env / ".env").write_text("TICKWATCH_CLICKHOUSE_URL=http://db:8123\n")
    assert load_settings().clickhouse.url == "http://db:8123"


def test_missing_toml_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml")


def test_bad_value_names_the_environment_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKWATCH_LOAD_BATCH_MAX_ROWS", "lots")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "TICKWATCH_LOAD_BATCH_MAX_ROWS" in message
    assert "load.batch_max_rows" in message
    assert "'lots'" in message


def test_out_of_range_value_says_what_was_expected(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[kafka]\npartitions = 0\n")
    with pytest.raises(ConfigError, match=r"TICKWATCH_KAFKA_PARTITIONS .*greater than or equal"):
        load_settings(config)


def test_unknown_key_in_a_section_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "typo.toml"
    config.write_text("[kafka]\nbootstrapp = 'x:1'\n")
    with pytest.raises(ConfigError, match="TICKWATCH_KAFKA_BOOTSTRAPP"):
        load_settings(config)


def test_secret_values_are_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKWATCH_SMTP_PASSWORD", "hunter2")
    settings = load_settings()
    assert settings.smtp.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())


def test_bad_secret_is_not_echoed(tmp_path: Path) -> None:
    config = tmp_path / "secret.toml"
    config.write_text("[sources]\npolygon_api_key = 12345\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "12345" not in str(info.value)
    assert "<hidden>" in str(info.value)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.kafka.bootstrap = "x:1"  # type: ignore[misc]
    assert isinstance(settings, Settings)
