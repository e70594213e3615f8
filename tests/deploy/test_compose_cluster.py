"""cluster/compose.yml (the `cluster` profile over docker-compose.yml), checked offline.

No containers run here (no Docker engine; chdb-core cannot replicate, see
tests/pipeline/test_load_two_shards.py). The overlay is merged over the base file the way
``docker compose -f docker-compose.yml -f cluster/compose.yml`` does for maps, and held to the
deployment rules of tests/deploy/test_compose.py plus the cluster's own structure: 2 shards x 2
replicas with unique macros, a 3-node Keeper ensemble, 3 Kafka voters replicating 3 ways with 2 in
sync, and workers whose settings describe that cluster.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tickwatch.settings import load_settings

from .grafana_model import REPO
from .test_compose import PINNED_IMAGE, SERVICES, VARIABLE, _env_example, _settings_field_exists

OVERLAY_FILE = REPO / "cluster" / "compose.yml"
OVERLAY: dict[str, Any] = yaml.safe_load(OVERLAY_FILE.read_text(encoding="utf-8"))
ADDED = {n: s for n, s in OVERLAY["services"].items() if n not in SERVICES}
CLICKHOUSE_NODES = ["clickhouse", "clickhouse-s1r2", "clickhouse-s2r1", "clickhouse-s2r2"]
KEEPERS = ["keeper-1", "keeper-2", "keeper-3"]
BROKERS = ["kafka", "kafka-2", "kafka-3"]
WORKERS = ["migrate", "ingest", "load", "monitor"]


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(over, list) and all(isinstance(v, str) for v in over):
        return base + [v for v in over if v not in base]
    return over


MERGED: dict[str, dict[str, Any]] = {
    name: _merge(SERVICES.get(name, {}), OVERLAY["services"].get(name, {}))
    for name in {*SERVICES, *OVERLAY["services"]}
}


def _env(name: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in MERGED[name].get("environment", {}).items()}


def _mount(name: str, target: str) -> Path:
    for volume in MERGED[name]["volumes"]:
        source, _, rest = str(volume).partition(":")
        if rest.split(":")[0] == target:
            return REPO / source
    raise AssertionError(f"{name} mounts nothing at {target}")


def _xml(path: Path) -> ET.ElementTree[ET.Element]:
    return ET.parse(path)  # noqa: S314  # this repository's own config files, not untrusted input


def test_the_overlay_adds_the_cluster_nodes_behind_the_profile() -> None:
    assert set(ADDED) == {*CLICKHOUSE_NODES[1:], *KEEPERS, *BROKERS[1:]}
    for name, service in ADDED.items():
        assert service["profiles"] == ["cluster"], name


@pytest.mark.parametrize("name", sorted(ADDED))
def test_added_services_are_pinned_healthy_and_restart(name: str) -> None:
    service = ADDED[name]
    assert PINNED_IMAGE.match(service["image"]), service["image"]
    assert service["healthcheck"]["test"], name
    assert service["restart"] == "unless-stopped"
    assert "ports" not in service, f"{name}: only the base nodes publish host ports"


def test_clickhouse_and_keeper_run_the_base_server_version() -> None:
    version = SERVICES["clickhouse"]["image"].split(":")[1]
    for name in CLICKHOUSE_NODES:
        assert MERGED[name]["image"] == f"clickhouse/clickhouse-server:{version}"
    for name in KEEPERS:
        assert ADDED[name]["image"] == f"clickhouse/clickhouse-keeper:{version}"
    assert {ADDED[b]["image"] for b in BROKERS[1:]} == {SERVICES["kafka"]["image"]}


def test_every_mounted_file_exists_and_every_variable_is_documented() -> None:
    for name, service in OVERLAY["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).is_file(), f"{name}: {source} is missing"
            else:
                assert source in OVERLAY["volumes"], f"{name}: volume {source} is not declared"
    used = set(VARIABLE.findall(OVERLAY_FILE.read_text(encoding="utf-8")))
    assert not used - set(_env_example())


def test_two_shards_of_two_replicas_each_node_with_its_own_macros() -> None:
    config = _xml(_mount("clickhouse", "/etc/clickhouse-server/config.d/cluster.xml"))
    shards = config.findall("./remote_servers/tickwatch/shard")
    layout = [[r.findtext("host") for r in s.findall("replica")] for s in shards]
    assert layout == [CLICKHOUSE_NODES[:2], CLICKHOUSE_NODES[2:]]
    assert all(s.findtext("internal_replication") == "true" for s in shards)
    secret = config.find("./remote_servers/tickwatch/secret")
    assert secret is not None and secret.get("from_env") == "CLICKHOUSE_CLUSTER_SECRET"
    seen = set()
    for shard, hosts in enumerate(layout, start=1):
        for host in hosts:
            assert host is not None and MERGED[host]["hostname"] == host
            cluster_xml = _mount(host, "/etc/clickhouse-server/config.d/cluster.xml")
            assert cluster_xml == _mount(
                "clickhouse", "/etc/clickhouse-server/config.d/cluster.xml"
            )
            macros = _xml(_mount(host, "/etc/clickhouse-server/config.d/macros.xml"))
            pair = (macros.findtext("./macros/shard"), macros.findtext("./macros/replica"))
            assert pair[0] == f"{shard:02d}", host
            seen.add(pair)
            secret_ref = VARIABLE.fullmatch(_env(host)["CLICKHOUSE_CLUSTER_SECRET"])
            assert secret_ref is not None and secret_ref[1] == "CLICKHOUSE_CLUSTER_SECRET"
    assert len(seen) == 4
    keepers = [n.findtext("host") for n in config.findall("./zookeeper/node")]
    assert keepers == KEEPERS
    assert config.find("./user_directories/replicated") is not None  # role users on every node


def test_three_keepers_form_one_raft_quorum() -> None:
    for index, name in enumerate(KEEPERS, start=1):
        config = _xml(_mount(name, "/etc/clickhouse-keeper/keeper_config.xml"))
        assert config.findtext("./keeper_server/server_id") == str(index)
        servers = config.findall("./keeper_server/raft_configuration/server")
        assert [s.findtext("hostname") for s in servers] == KEEPERS
        assert config.findtext("./keeper_server/http_control/port") == "9182"
    for name in CLICKHOUSE_NODES:
        assert set(KEEPERS) <= set(MERGED[name]["depends_on"]), name


def test_three_kafka_voters_replicate_three_ways_with_two_in_sync() -> None:
    voters = "1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"
    ids = set()
    for name in BROKERS:
        env = _env(name)
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters, name
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["CLUSTER_ID"] == "${KAFKA_CLUSTER_ID:?copy .env.example to .env}"
        ids.add(env["KAFKA_NODE_ID"])
    assert ids == {"1", "2", "3"}


@pytest.mark.parametrize("name", WORKERS)
def test_workers_are_configured_for_both_clusters(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env(name)
    assert not [k for k in env if k.startswith("TICKWATCH_") and not _settings_field_exists(k)]
    assert set(ADDED) - set(KEEPERS) <= set(MERGED[name]["depends_on"])
    example = _env_example()
    for variable in list(os.environ):
        if variable.startswith("TICKWATCH_"):
            monkeypatch.delenv(variable)
    for key, value in env.items():
        monkeypatch.setenv(key, VARIABLE.sub(lambda m: example[m.group(1)], value))
    settings = load_settings(_env_file=None)
    assert settings.kafka.bootstrap.split(",") == [f"{b}:9092" for b in BROKERS]
    assert (settings.kafka.replication_factor, settings.kafka.min_insync_replicas) == (3, 2)
    ch = settings.clickhouse
    assert ch.cluster == "tickwatch" and ch.cluster_replicated
    assert ch.shard_url_list == ["http://clickhouse:8123", "http://clickhouse-s2r1:8123"]
