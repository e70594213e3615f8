"""`tickwatch stack ...` and `tickwatch mail ...` as the root CLI mounts them."""

from __future__ import annotations

import socket
from email.message import EmailMessage
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tickwatch.settings import Settings, load_settings
from tickwatch.stack import mailbox, process, stackfile
from tickwatch.stack.cli import mail_app, stack_app
from tickwatch.stack.net import LOOPBACK

pytestmark = pytest.mark.usefixtures("isolated_env")
runner = CliRunner()


def _app(settings: Settings) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = settings

    app.add_typer(stack_app, name="stack")
    app.add_typer(mail_app, name="mail")
    return app


def _settings(tmp_path: Path, smtp_port: int = 0) -> Settings:
    return load_settings(
        stack={"state_dir": tmp_path / "state", "start_prometheus": False, "ready_timeout_s": 3},
        kafka={"bootstrap": "127.0.0.1:1"},
        clickhouse={"url": "http://127.0.0.1:1"},
        smtp={"port": smtp_port},
    )


def _store(mail_dir: Path, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = "tickwatch@localhost"
    message["To"] = "oncall@localhost"
    message["Subject"] = subject
    message.set_content(body)
    mailbox.store(mail_dir, message.as_bytes(), "tickwatch@localhost", ["oncall@localhost"])


def test_mail_list_and_show(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    mail_dir = settings.stack.state_dir.resolve() / "mail"
    _store(mail_dir, "[CRIT] kafka down", "broker unreachable for 60 s")
    _store(mail_dir, "[OK] kafka back", "recovered")
    listed = runner.invoke(_app(settings), ["mail", "list"], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert "[CRIT] kafka down" in listed.output
    assert listed.output.index("kafka down") < listed.output.index("kafka back")
    shown = runner.invoke(_app(settings), ["mail", "show", "1"])
    assert shown.exit_code == 0, shown.output
    assert "Subject: [CRIT] kafka down" in shown.output
    assert "broker unreachable for 60 s" in shown.output


def test_mail_show_out_of_range(tmp_path: Path) -> None:
    result = runner.invoke(_app(_settings(tmp_path)), ["mail", "show", "3"])
    assert result.exit_code == 1
    assert "no message 3: there are 0" in result.output


def test_stack_status_before_up(tmp_path: Path) -> None:
    result = runner.invoke(_app(_settings(tmp_path)), ["stack", "status"], terminal_width=200)
    assert result.exit_code == 0
    assert "local stack" in result.output


def test_stack_up_down_with_external_services(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = _app(settings)
    try:
        up = runner.invoke(app, ["stack", "up"], terminal_width=200)
        # kafka is external but unreachable, so creating the topics fails after smtp started
        assert up.exit_code == 1
        assert "tickwatch stack up: kafka topics: creating Kafka topic" in up.output
        status = runner.invoke(app, ["stack", "status"], terminal_width=200)
        assert "smtp" in status.output
        assert "external" in status.output
    finally:
        smtp_pid = stackfile.read(settings.stack.state_dir.resolve())["smtp"]["pid"]
        down = runner.invoke(app, ["stack", "down"])
    assert down.exit_code == 0
    assert "stopped: smtp" in down.output
    assert not process.is_running(smtp_pid)


def test_stack_up_reports_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        result = runner.invoke(_app(_settings(tmp_path, holder.getsockname()[1])), ["stack", "up"])
    assert result.exit_code == 1
    assert "already in use" in result.output
