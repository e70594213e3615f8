"""The monitor's ClickHouse calls honour ``monitor.check_timeout_s`` (issue 12, finding 4)."""

from __future__ import annotations

import pytest

from monitor.chconn import ClickHouseHandle, bounded_factory
from monitor.errors import CheckUnavailable
from tests.hung_server import HangingProxy
from tickwatch.settings import ClickHouseSettings


def test_a_hung_clickhouse_fails_the_call_with_the_checks_timeout() -> None:
    hung = HangingProxy(target_port=None)  # accepts, never answers
    try:
        settings = ClickHouseSettings(send_receive_timeout_s=30.0)
        handle = ClickHouseHandle(bounded_factory(settings, hung.url, timeout_s=1.0))
        with pytest.raises(CheckUnavailable) as caught:
            handle.command("SELECT 1")
        assert "read timeout=1" in str(caught.value)  # the check's 1 s, not the default 30 s
    finally:
        hung.close()


def test_the_factory_gives_clients_the_checks_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    import clickhouse_connect

    seen: dict[str, object] = {}

    def get_client(**kwargs: object) -> object:
        seen.update(kwargs)
        return object()

    monkeypatch.setattr(clickhouse_connect, "get_client", get_client)
    factory = bounded_factory(ClickHouseSettings(), "http://127.0.0.1:9", timeout_s=2.5)
    factory()
    assert (seen["connect_timeout"], seen["send_receive_timeout"]) == (3, 3)
    assert seen["query_retries"] == 0
