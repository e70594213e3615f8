"""The N-broker KRaft configuration (unit; the real cluster: test_kafka_cluster.py)."""

from __future__ import annotations

from pathlib import Path

from tickwatch.stack.kafka_cluster import cluster_properties

PORTS = [(9001, 9101), (9002, 9102), (9003, 9103)]


def test_every_node_is_a_voter_with_its_own_ports_on_loopback() -> None:
    props = [cluster_properties(i, Path(f"/d{i}"), PORTS) for i in (1, 2, 3)]
    voters = "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"
    assert {p["controller.quorum.voters"] for p in props} == {voters}
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    assert props[1]["listeners"] == "PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102"
    assert props[2]["log.dirs"] == "/d3"


def test_three_brokers_replicate_three_ways_with_two_in_sync() -> None:
    props = cluster_properties(1, Path("/d"), PORTS)
    assert props["default.replication.factor"] == "3"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["unclean.leader.election.enable"] == "false"


def test_two_brokers_cannot_require_two_in_sync() -> None:
    props = cluster_properties(1, Path("/d"), PORTS[:2])
    assert props["default.replication.factor"] == "2"
    assert props["min.insync.replicas"] == "1"
