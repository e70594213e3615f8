"""ClickHouse from the chdb-core wheel as a server process: start, query, stop, restart, errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client

from tickwatch.stack import process
from tickwatch.stack.clickhouse_server import EXIT_PORT_IN_USE, ClickHouseServer, is_ready
from tickwatch.stack.errors import PortInUseError
from tickwatch.stack.net import LOOPBACK, free_port

pytestmark = pytest.mark.clickhouse


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ClickHouseServer]:
    own = ClickHouseServer(tmp_path / "data", tmp_path / "run", ready_timeout_s=60)
    own.start()
    try:
        yield own
    finally:
        own.stop()


def _client(server: ClickHouseServer) -> Client:
    # a dedicated pool is closed by close(): the server's clean stop waits ~5 s for idle
    # keep-alive connections otherwise
    return clickhouse_connect.get_client(
        host=LOOPBACK, port=server.http_port, dedicated_pool=True, autogenerate_session_id=False
    )


def _count(server: ClickHouseServer) -> int:
    client = _client(server)
    try:
        return int(client.query("SELECT count() FROM default.kept").result_rows[0][0])
    finally:
        client.close()


def _insert_rows(server: ClickHouseServer, rows: int) -> None:
    client = _client(server)
    client.command(
        "CREATE TABLE IF NOT EXISTS default.kept (x UInt32) ENGINE = MergeTree ORDER BY x"
    )
    client.insert("default.kept", [[i] for i in range(rows)], column_names=["x"])
    client.close()


def test_serves_http_and_native_ports(server: ClickHouseServer) -> None:
    client = _client(server)
    assert client.command("SELECT 40 + 2") == 42
    assert str(client.server_version).startswith("26.")
    client.close()
    with socket.create_connection((LOOPBACK, server.tcp_port), timeout=5):
        pass
    assert (server.run_dir / "config.xml").read_text().count("127.0.0.1") == 1


def test_stop_ends_the_process(server: ClickHouseServer) -> None:
    pid = server.pid
    server.stop()
    assert not process.is_running(pid)
    assert server.pid is None
    assert not is_ready(server.url)


def test_restart_keeps_data_and_ports(server: ClickHouseServer) -> None:
    _insert_rows(server, 1000)
    port = server.http_port
    server.restart()
    assert server.http_port == port
    assert _count(server) == 1000


def test_data_survives_kill_9(server: ClickHouseServer) -> None:
    _insert_rows(server, 500)
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert process.wait_exit(pid, 30)
    server.start()
    assert _count(server) == 500


def test_sigterm_stops_cleanly(server: ClickHouseServer) -> None:
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    assert process.wait_exit(pid, 60)
    assert "clickhouse: serving" in server.log_path.read_text()


def test_port_taken_is_refused_before_starting(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        blocked = ClickHouseServer(tmp_path / "d", tmp_path / "r", http_port=taken)
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{taken} is already in use"):
            blocked.start()
        assert blocked.pid is None


def test_child_detects_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind((LOOPBACK, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        argv = [sys.executable, "-m", "tickwatch.stack.clickhouse_server",
                "--data-dir", str(tmp_path / "d"), "--run-dir", str(tmp_path / "r"),
                "--http-port", str(free_port()), "--tcp-port", str(taken)]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == EXIT_PORT_IN_USE
    assert f"port 127.0.0.1:{taken} is already in use" in done.stderr
