"""The local S3 server (gofakes3) as the stack runs it: objects survive a restart."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx
import pytest

from tickwatch.stack.s3_server import S3Server, ensure_binary

pytestmark = pytest.mark.s3


def test_objects_survive_a_restart(tmp_path: Path) -> None:
    server = S3Server(ensure_binary(_cache()), tmp_path / "s3", "restart-test")
    server.start()
    try:
        url = f"{server.endpoint}/restart-test/a/date=2026-11-02/part-0.parquet"
        assert httpx.put(url, content=b"PAR1 fake", timeout=5).status_code == 200
        server.stop()
        assert server.pid is None
        server.start()
        answer = httpx.get(url, timeout=5)
        assert (answer.status_code, answer.content) == (200, b"PAR1 fake")
    finally:
        server.stop()


def test_stack_component_starts_probes_and_stops(tmp_path: Path) -> None:
    from tickwatch.settings import Settings, StackSettings
    from tickwatch.stack import components, s3_server

    state = tmp_path / "state"
    assert "make setup" in s3_server.skip_reason(True, state / "bin")
    assert s3_server.skip_reason(False, state / "bin").startswith("disabled")
    (state / "bin").mkdir(parents=True)
    (state / "bin" / "gofakes3").symlink_to(ensure_binary(_cache()))
    assert s3_server.skip_reason(True, state / "bin") == ""
    settings = Settings(_env_file=None, stack=StackSettings(state_dir=state))
    record = components.start_s3(settings, state, {})
    try:
        assert components.healthy("s3", record)
        assert components.address("s3", record) == record["endpoint"]
    finally:
        components.stop("s3", {**record, "started_at": None})
    assert not components.healthy("s3", record)


def _cache() -> Path:
    default = Path(tempfile.gettempdir()) / "tickwatch-s3-bin"
    return Path(os.environ.get("TICKWATCH_TEST_S3_BIN", str(default)))
