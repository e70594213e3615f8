"""Small parts in one file (issue 18): clickhouse/config.d/small_parts.xml (compose) and the
local engine's ``SMALL_PARTS_CONFIG``.

The offline tests hold the two to the same threshold and compose to mounting the file; the real
ones run the chdb-core engine (the same ClickHouse 26.9 as compose's image): a small INSERT is
written as one Packed part, a large one stays Full, both survive a restart and merge into one
part with every row.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import clickhouse_connect
import pytest
import yaml
from clickhouse_connect.driver.client import Client

from tickwatch.stack.clickhouse_engine import SMALL_PARTS_BYTES, SMALL_PARTS_CONFIG, config_xml
from tickwatch.stack.clickhouse_server import ClickHouseServer
from tickwatch.stack.net import LOOPBACK

REPO = Path(__file__).resolve().parents[3]
SMALL_PARTS = REPO / "clickhouse" / "config.d" / "small_parts.xml"
MOUNT = "./clickhouse/config.d/small_parts.xml:/etc/clickhouse-server/config.d/small_parts.xml:ro"
SETTING = "min_bytes_for_full_part_storage"


def _threshold() -> str | None:
    # this repository's own config file, not untrusted input
    root = ET.fromstring(SMALL_PARTS.read_text(encoding="utf-8"))  # noqa: S314
    return root.findtext(f"merge_tree/{SETTING}")


def test_compose_file_and_local_engine_use_the_same_threshold() -> None:
    assert _threshold() == str(SMALL_PARTS_BYTES)
    assert f"<{SETTING}>{SMALL_PARTS_BYTES}</{SETTING}>" in SMALL_PARTS_CONFIG


def test_the_generated_server_config_has_it() -> None:
    config = config_xml(8123, 9000)
    assert SMALL_PARTS_CONFIG in config
    root = ET.fromstring(config)  # noqa: S314  # built by this module
    assert root.findtext(f"merge_tree/{SETTING}") == str(SMALL_PARTS_BYTES)


def test_compose_mounts_it_on_the_single_node_server_only() -> None:
    main = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert MOUNT in main["services"]["clickhouse"]["volumes"]
    assert "small_parts.xml" not in (REPO / "cluster" / "compose.yml").read_text(encoding="utf-8")


def _client(server: ClickHouseServer) -> Client:
    return clickhouse_connect.get_client(
        host=LOOPBACK, port=server.http_port, dedicated_pool=True, autogenerate_session_id=False
    )


def _parts(client: Client) -> list[tuple[str, int]]:
    sql = (
        "SELECT part_storage_type, rows FROM system.parts"
        " WHERE database = 'default' AND table = 't' AND active ORDER BY rows"
    )
    return [(str(kind), int(rows)) for kind, rows in client.query(sql).result_rows]


@pytest.mark.clickhouse
def test_small_parts_are_packed_large_ones_full_and_both_survive_a_restart(
    tmp_path: Path,
) -> None:
    server = ClickHouseServer(tmp_path / "data", tmp_path / "run")
    server.start()
    try:
        client = _client(server)
        client.command(
            "CREATE TABLE t (n UInt64, s String) ENGINE = MergeTree ORDER BY n"
            " SETTINGS non_replicated_deduplication_window = 100"
        )
        client.command("INSERT INTO t SELECT number, toString(number) FROM numbers(1000)")
        # 1M rows of UInt64 + String (one insert block): above 10 MiB uncompressed
        client.command("INSERT INTO t SELECT number, toString(number) FROM numbers(1000, 1000000)")
        assert _parts(client) == [("Packed", 1000), ("Full", 1000000)]
        client.close()
        server.restart()
        client = _client(server)
        assert _parts(client) == [("Packed", 1000), ("Full", 1000000)]
        assert client.command("SELECT sum(n) FROM t WHERE n < 1000") == sum(range(1000))
        client.command("OPTIMIZE TABLE t FINAL")
        assert _parts(client) == [("Full", 1001000)]
        assert client.command("SELECT uniqExact(n) FROM t") == 1001000
        client.close()
    finally:
        server.stop()


@pytest.mark.clickhouse
def test_small_parts_xml_merged_over_a_server_config_sets_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "config.d").mkdir(parents=True)
    shutil.copy(SMALL_PARTS, run_dir / "config.d" / "small_parts.xml")
    server = ClickHouseServer(tmp_path / "data", run_dir)
    server.start()
    try:
        client = _client(server)
        sql = f"SELECT value, changed FROM system.merge_tree_settings WHERE name = '{SETTING}'"
        assert client.query(sql).result_rows == [(str(SMALL_PARTS_BYTES), 1)]
        client.close()
    finally:
        server.stop()
