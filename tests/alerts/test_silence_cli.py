"""``tickwatch silence add|list|remove`` against a temporary state directory."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from alerts.cli import silence_app
from alerts.silence_store import SilenceStore
from tickwatch.settings import AlertSettings, Settings, StackSettings


def app_for(state_dir: Path, **alerts: str) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = Settings(
            _env_file=None, stack=StackSettings(state_dir=state_dir), alerts=AlertSettings(**alerts)
        )

    app.add_typer(silence_app, name="silence")
    return app


def test_add_list_remove(tmp_path: Path) -> None:
    runner, app = CliRunner(), app_for(tmp_path, maintenance_windows="Sat 00:00-06:00 UTC *")
    added = runner.invoke(app, ["silence", "add", "consumer_lag/*", "--for", "2h",
                                "--comment", "deploy"])  # fmt: skip
    assert added.exit_code == 0, added.output
    silence_id = re.search(r"silence (\w+):", added.output)[1]  # type: ignore[index]
    assert [s.matcher for s in SilenceStore(tmp_path).load()] == ["consumer_lag/*"]
    listed = runner.invoke(app, ["silence", "list"])
    assert silence_id in listed.output and "deploy" in listed.output
    assert "maintenance window" in listed.output
    assert runner.invoke(app, ["silence", "remove", silence_id]).exit_code == 0
    assert SilenceStore(tmp_path).load() == []
    assert runner.invoke(app, ["silence", "remove", silence_id]).exit_code == 1


def test_bad_input_exits_2_with_a_message(tmp_path: Path) -> None:
    runner, app = CliRunner(), app_for(tmp_path)
    both = runner.invoke(app, ["silence", "add", "*", "--for", "1h", "--until", "2030-01-01"])
    assert both.exit_code == 2 and "exactly one" in both.output
    past = runner.invoke(app, ["silence", "add", "*", "--until", "2001-01-01T00:00Z"])
    assert past.exit_code == 2 and "past" in past.output
