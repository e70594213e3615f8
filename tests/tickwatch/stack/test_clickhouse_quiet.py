"""ClickHouse's own idle cost: clickhouse/config.d/quiet.xml (compose), the local engine's config.

The offline tests hold the file to what tickwatch reads; the real ones run the engine of the
chdb-core wheel, whose configuration loader merges ``config.d/*.xml`` over ``config.xml`` the
way the official server does, so the compose file is proven to load and to do what it says.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import clickhouse_connect
import pytest
import yaml

from tickwatch.stack.clickhouse_engine import QUIET_CONFIG
from tickwatch.stack.clickhouse_server import ClickHouseServer
from tickwatch.stack.net import LOOPBACK

REPO = Path(__file__).resolve().parents[3]
QUIET = REPO / "clickhouse" / "config.d" / "quiet.xml"
MOUNT = "./clickhouse/config.d/quiet.xml:/etc/clickhouse-server/config.d/quiet.xml:ro"
KEPT = {"query_log", "part_log", "crash_log"}
READERS = ("tickwatch", "pipeline", "monitor", "alerts", "bench", "tools", "grafana")


def _root() -> ET.Element:
    # this repository's own config file, not untrusted input
    return ET.fromstring(QUIET.read_text(encoding="utf-8"))  # noqa: S314


def removed() -> set[str]:
    return {e.tag for e in _root() if e.get("remove") == "1"}


def test_unused_system_logs_are_removed_and_the_read_ones_kept() -> None:
    expected_gone = {
        "metric_log", "asynchronous_metric_log", "trace_log", "text_log", "query_thread_log",
        "processors_profile_log", "opentelemetry_span_log",
    }  # fmt: skip
    assert expected_gone <= removed()
    assert not KEPT & removed()
    root = _root()
    for kept in ("query_log", "part_log"):
        node = root.find(kept)
        assert node is not None and node.get("remove") is None
        assert node.findtext("flush_interval_milliseconds") == "30000"


def test_no_removed_table_is_read_anywhere_in_the_repository() -> None:
    pattern = re.compile(r"system\.(\w+)")
    used: set[str] = set()
    for folder in READERS:
        for path in (REPO / folder).rglob("*"):
            if path.suffix in {".py", ".json", ".sql", ".yml", ".yaml"}:
                used |= set(pattern.findall(path.read_text(encoding="utf-8", errors="ignore")))
    assert used, "the scan found no system table at all"
    assert not used & removed()


def test_the_local_engine_uses_the_same_asynchronous_metrics_period() -> None:
    period = _root().findtext("asynchronous_metrics_update_period_s")
    assert period == "60"
    assert f"<asynchronous_metrics_update_period_s>{period}<" in QUIET_CONFIG


def test_compose_mounts_it_on_every_clickhouse_node() -> None:
    main = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert MOUNT in main["services"]["clickhouse"]["volumes"]
    cluster = yaml.safe_load((REPO / "cluster" / "compose.yml").read_text(encoding="utf-8"))
    nodes = [s for s in cluster["services"].values() if "config.d/macros.xml" in str(s)]
    assert len(nodes) == 4
    assert all(MOUNT in node["volumes"] for node in nodes)


# The official image's config.xml defines these (a subset is enough: the merge is the point).
_BASE_LOGS = "".join(
    f"<{name}><database>system</database><table>{name}</table></{name}>"
    for name in ("query_log", "part_log", "metric_log", "text_log", "query_thread_log")
)


def _system_logs(server: ClickHouseServer) -> set[str]:
    client = clickhouse_connect.get_client(
        host=LOOPBACK, port=server.http_port, dedicated_pool=True, autogenerate_session_id=False
    )
    try:
        client.command("SYSTEM FLUSH LOGS")
        sql = "SELECT name FROM system.tables WHERE database = 'system' AND name LIKE '%_log'"
        names = {str(row[0]) for row in client.query(sql).result_rows}
        setting = client.query(
            "SELECT value FROM system.server_settings"
            " WHERE name = 'asynchronous_metrics_update_period_s'"
        ).result_rows
    finally:
        client.close()
    assert setting == [("60",)]
    return names - {"user_query_log"}  # a view the engine always has


@pytest.mark.clickhouse
def test_quiet_xml_merged_over_a_server_config_keeps_only_the_read_logs(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "config.d").mkdir(parents=True)
    shutil.copy(QUIET, run_dir / "config.d" / "quiet.xml")
    server = ClickHouseServer(tmp_path / "data", run_dir, extra_config=_BASE_LOGS)
    server.start()
    try:
        assert _system_logs(server) == {"query_log", "part_log"}
    finally:
        server.stop()


@pytest.mark.clickhouse
def test_the_local_server_has_no_system_logs_and_the_slow_metrics_period(tmp_path: Path) -> None:
    server = ClickHouseServer(tmp_path / "data", tmp_path / "run")
    server.start()
    try:
        assert _system_logs(server) == set()
    finally:
        server.stop()
