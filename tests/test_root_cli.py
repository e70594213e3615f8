"""The root command: settings validated once, bad values stop at start-up naming the key."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tickwatch.cli import _register_sub_apps, app

runner = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def _sub_apps() -> None:
    _register_sub_apps()


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("migrate", "ingest", "load", "monitor", "up", "stack", "mail", "silence"):
        assert command in result.output


def test_bad_setting_stops_with_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKWATCH_LOAD_BATCH_MAX_ROWS", "lots")
    result = runner.invoke(app, ["stack", "status"])
    assert result.exit_code == 2
    assert "TICKWATCH_LOAD_BATCH_MAX_ROWS" in result.output
    assert "'lots'" in result.output


def test_missing_config_file_is_named(tmp_path: object) -> None:
    result = runner.invoke(app, ["--config", "/nonexistent/tickwatch.toml", "stack", "status"])
    assert result.exit_code == 2
    assert "/nonexistent/tickwatch.toml" in result.output
