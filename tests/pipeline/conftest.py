"""Fixtures shared by the load worker's real-service tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tickwatch.stack.clickhouse_server import ClickHouseServer


@pytest.fixture
def own_clickhouse(tmp_path: Path) -> Iterator[ClickHouseServer]:
    """A ClickHouse server of this test's own, so stopping it leaves the session's alone."""
    server = ClickHouseServer(
        tmp_path / "ch" / "data", tmp_path / "ch" / "run", ready_timeout_s=120
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
