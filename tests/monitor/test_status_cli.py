"""``tickwatch silence`` through a running detector's API (real HTTP), and its fallback to the
silences file when the CLI has no token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from alerts.cli import silence_app
from tickwatch.settings import Settings, StackSettings, StatusSettings

from .test_status_api import TOKEN, Running, start_running


def flat(text: str) -> str:
    """Output without the line breaks and spaces rich adds to fit the terminal."""
    return "".join(text.split())


def app_for(state_dir: Path, token: str) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = Settings(
            _env_file=None,
            stack=StackSettings(state_dir=state_dir),
            status=StatusSettings(api_token=SecretStr(token)),
        )

    app.add_typer(silence_app, name="silence")
    return app


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    yield from start_running(tmp_path, TOKEN)


def test_silence_commands_go_through_the_running_detector(running: Running, tmp_path: Path) -> None:
    runner, app = CliRunner(), app_for(tmp_path / "state", TOKEN)
    added = runner.invoke(app, ["silence", "add", "heartbeat/*", "--for", "1h"])
    assert added.exit_code == 0, added.output
    assert flat(f"via the detector at {running.server.url}") in flat(added.output)
    silence_id = re.search(r"silence (\w+):", added.output)[1]  # type: ignore[index]
    assert [s["id"] for s in running.http.get("/api/v1/silences").json()] == [silence_id]
    for _ in range(2):
        running.clock.advance(5)
        running.fail("heartbeat/load")
    (alert,) = running.http.get("/api/v1/alerts").json()
    assert alert["muted"] == f"silence {silence_id} (heartbeat/*)"

    listed = runner.invoke(app, ["silence", "list"])
    assert flat(f"detector at {running.server.url}") in flat(listed.output)
    assert silence_id in listed.output
    assert runner.invoke(app, ["silence", "remove", silence_id]).exit_code == 0
    assert running.http.get("/api/v1/silences").json() == []
    assert runner.invoke(app, ["silence", "remove", silence_id]).exit_code == 1


def test_without_a_token_the_cli_writes_the_file_the_detector_reads(
    running: Running, tmp_path: Path
) -> None:
    runner, app = CliRunner(), app_for(tmp_path / "state", "")
    added = runner.invoke(app, ["silence", "add", "*", "--for", "10m"])
    assert added.exit_code == 0, added.output
    assert flat("status.api_token is not set") in flat(added.output)
    assert "silences.json" in flat(added.output)
    assert [s["matcher"] for s in running.http.get("/api/v1/silences").json()] == ["*"]


def test_without_a_detector_the_cli_uses_the_file(tmp_path: Path) -> None:
    runner, app = CliRunner(), app_for(tmp_path / "state", TOKEN)
    added = runner.invoke(app, ["silence", "add", "*", "--for", "10m"])
    assert added.exit_code == 0, added.output
    assert "silences.json" in flat(added.output) and "viathedetector" not in flat(added.output)
