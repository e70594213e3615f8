"""A sharded ClickHouse cluster of local ``chdb-core`` servers (no replication: no Keeper here).

Every server lists all of them in ``<remote_servers>`` by native TCP port (one shard each, one
replica per shard), and has ``<macros>`` naming its shard and replica, so ``Distributed`` tables
fan reads out and ``system.clusters`` marks the server itself ``is_local``. ``chdb-core`` has no
ZooKeeper/Keeper client and refuses the interserver port, so ``ReplicatedMergeTree`` cannot run
on these servers; the replicated layout runs in compose's ``cluster`` profile.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from tickwatch.stack.clickhouse_server import ClickHouseServer
from tickwatch.stack.net import LOOPBACK, free_port


def cluster_xml(name: str, tcp_ports: list[int], shard: int) -> str:
    """``<remote_servers>`` with one shard per port, and this server's (1-based) ``<macros>``."""
    shards = "".join(
        f"<shard><replica><host>{LOOPBACK}</host><port>{port}</port></replica></shard>"
        for port in tcp_ports
    )
    return (
        f"<remote_servers><{escape(name)}>{shards}</{escape(name)}></remote_servers>"
        f"<macros><shard>{shard:02d}</shard><replica>{LOOPBACK}-{tcp_ports[shard - 1]}</replica>"
        "</macros>"
    )


def sharded_servers(base: Path, name: str, shards: int, **kwargs: object) -> list[ClickHouseServer]:
    """``shards`` servers (not started) under ``base/shard-N``, each knowing all of them."""
    http_ports, tcp_ports = _distinct_ports(2 * shards)
    servers = []
    for index in range(shards):
        root = base / f"shard-{index + 1}"
        servers.append(
            ClickHouseServer(
                root / "data",
                root / "run",
                http_port=http_ports[index],
                tcp_port=tcp_ports[index],
                extra_config=cluster_xml(name, tcp_ports, index + 1),
                **kwargs,  # type: ignore[arg-type]
            )
        )
    return servers


def _distinct_ports(count: int) -> tuple[list[int], list[int]]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    half = count // 2
    return ports[:half], ports[half:]
