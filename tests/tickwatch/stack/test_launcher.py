"""LocalStack through its Python API: up (twice), status, down, and nothing left running."""

from __future__ import annotations

import shutil
import socket
import uuid
from pathlib import Path

import psutil
import pytest

from tickwatch.endpoints import resolve_endpoints
from tickwatch.settings import Settings, load_settings
from tickwatch.stack import process, stackfile
from tickwatch.stack.errors import PortInUseError
from tickwatch.stack.launcher import LocalStack
from tickwatch.stack.net import LOOPBACK
from tickwatch.topics import delete_topics, existing_topics

pytestmark = pytest.mark.usefixtures("isolated_env")


def _topic_names(prefix: str) -> dict[str, str]:
    kinds = ("trades", "quotes", "bars", "corrections", "dlq")
    return {f"topic_{kind}": f"{prefix}.{kind}" for kind in kinds}


def _pids(records: dict[str, stackfile.Record]) -> dict[str, int]:
    return {name: r["pid"] for name, r in records.items() if r.get("pid")}


def _processes_mentioning(state_dir: Path) -> list[psutil.Process]:
    found = []
    for candidate in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(candidate.info["cmdline"] or [])
        if str(state_dir) in cmdline:
            found.append(candidate)
    return found


@pytest.mark.slow
@pytest.mark.kafka
@pytest.mark.clickhouse
def test_full_local_stack_up_status_down(tmp_path: Path) -> None:
    state_dir = (tmp_path / "state").resolve()
    settings = load_settings(
        stack={"state_dir": state_dir, "ready_timeout_s": 180},
        kafka={"partitions": 2, **_topic_names("local")},
        smtp={"tls": "starttls"},
    )
    stack = LocalStack(settings)
    try:
        first = stack.up()
        assert _pids(stack.up()) == _pids(first)  # already up: nothing restarted
        statuses = {s.name: s for s in stack.status()}
        for name in ("clickhouse", "kafka", "smtp"):
            assert statuses[name].healthy, statuses[name]
            assert Path(str(statuses[name].log)).is_relative_to(state_dir / "logs")
        if shutil.which("prometheus"):
            assert statuses["prometheus"].healthy
        else:
            assert "apt-get install prometheus" in statuses["prometheus"].note
        endpoints = resolve_endpoints(
            settings, ("kafka", "clickhouse", "smtp"), stackfile.local_addresses(state_dir)
        )
        config = {"bootstrap.servers": endpoints.kafka_bootstrap}
        assert {"local.trades", "local.dlq"} <= existing_topics(config)
        assert endpoints.smtp_ca_cert == state_dir / "tls" / "cert.pem"
    finally:
        stopped = stack.down()
    assert {"clickhouse", "kafka", "smtp"} <= set(stopped)
    assert not any(process.is_running(pid) for pid in _pids(first).values())
    assert _processes_mentioning(state_dir) == []
    assert all(s.pid is None and not s.healthy for s in stack.status())
    assert stack.down() == []  # down twice is fine


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_external_services_are_used_not_started(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    prefix = f"ext_{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        stack={"state_dir": tmp_path / "state", "start_prometheus": False},
        kafka={"bootstrap": kafka_bootstrap, "partitions": 1, **_topic_names(prefix)},
        clickhouse={"url": clickhouse_url},
    )
    stack = LocalStack(settings)
    config = {"bootstrap.servers": kafka_bootstrap}
    try:
        records = stack.up()
        assert records["kafka"]["external"] and records["clickhouse"]["external"]
        assert records["prometheus"]["skipped"].startswith("disabled")
        assert f"{prefix}.trades" in existing_topics(config)
        statuses = {s.name: s for s in stack.status()}
        assert statuses["kafka"].external and statuses["kafka"].healthy
        assert statuses["smtp"].pid is not None
    finally:
        assert stack.down() == ["smtp"]
        delete_topics(config, _topic_names(prefix).values())
    assert resolve_endpoints(settings).clickhouse_url == clickhouse_url


def test_failure_names_the_component_and_keeps_the_record(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        settings = _only_smtp(tmp_path, port=taken)
        with pytest.raises(PortInUseError, match=r"smtp: smtp: port .* already in use"):
            LocalStack(settings).up()
    assert stackfile.read(settings.stack.state_dir)["clickhouse"]["external"]


def test_status_of_a_stack_never_started(tmp_path: Path) -> None:
    assert LocalStack(_only_smtp(tmp_path)).status() == []


def _only_smtp(tmp_path: Path, port: int = 0) -> Settings:
    return load_settings(
        stack={"state_dir": tmp_path / "state", "start_prometheus": False},
        kafka={"bootstrap": "127.0.0.1:1"},
        clickhouse={"url": "http://127.0.0.1:1"},
        smtp={"port": port},
    )
