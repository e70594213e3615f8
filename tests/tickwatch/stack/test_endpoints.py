"""Endpoint resolution: settings first, then the local stack's stack.json, else a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tickwatch.endpoints import EndpointError, Endpoints, Service, resolve_endpoints
from tickwatch.settings import Settings, load_settings
from tickwatch.stack import stackfile
from tickwatch.stack.errors import StackError

pytestmark = pytest.mark.usefixtures("isolated_env")


def _settings(state_dir: Path, **sections: Any) -> Settings:
    return load_settings(stack={"state_dir": state_dir}, **sections)


def _resolve(
    settings: Settings, require: tuple[Service, ...] = ("kafka", "clickhouse")
) -> Endpoints:
    """Resolve as ``tickwatch`` does: the local stack's file as the fallback."""
    local = stackfile.local_addresses(settings.stack.state_dir.resolve())
    return resolve_endpoints(settings, require, local)


def _record_running_stack(state_dir: Path) -> None:
    stackfile.write(
        state_dir,
        {
            "kafka": {"bootstrap": "127.0.0.1:19092", "pid": 4242, "log": "k.log"},
            "clickhouse": {"url": "http://127.0.0.1:18123", "pid": 4243, "log": "c.log"},
            "smtp": {
                "host": "127.0.0.1",
                "port": 2525,
                "mail_dir": str(state_dir / "mail"),
                "ca_cert": None,
                "pid": 4244,
            },
            "prometheus": {"skipped": "disabled", "pid": None, "log": None},
        },
    )


def test_settings_win_and_no_file_is_needed(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path / "none",
        kafka={"bootstrap": "broker:9092"},
        clickhouse={"url": "https://db:8443"},
        smtp={"host": "mail.internal", "port": 587},
    )
    endpoints = _resolve(settings, require=("kafka", "clickhouse", "smtp"))
    assert endpoints.kafka_bootstrap == "broker:9092"
    assert endpoints.clickhouse_url == "https://db:8443"
    assert (endpoints.smtp_host, endpoints.smtp_port) == ("mail.internal", 587)
    assert endpoints.mail_dir is None


def test_local_stack_fills_the_gaps(tmp_path: Path) -> None:
    _record_running_stack(tmp_path)
    endpoints = _resolve(_settings(tmp_path, kafka={"bootstrap": "mine:1"}))
    assert endpoints.kafka_bootstrap == "mine:1"
    assert endpoints.clickhouse_url == "http://127.0.0.1:18123"
    assert (endpoints.smtp_host, endpoints.smtp_port) == ("127.0.0.1", 2525)
    assert endpoints.mail_dir == tmp_path / "mail"
    assert endpoints.prometheus_url == ""


def test_neither_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EndpointError) as info:
        _resolve(_settings(tmp_path))
    message = str(info.value)
    assert "no address for kafka, clickhouse" in message
    assert "run `tickwatch stack up` or set TICKWATCH_KAFKA_BOOTSTRAP" in message
    assert "TICKWATCH_CLICKHOUSE_URL" in message


def test_a_stopped_stack_does_not_count(tmp_path: Path) -> None:
    _record_running_stack(tmp_path)
    records = stackfile.read(tmp_path)
    records["kafka"]["pid"] = None
    stackfile.write(tmp_path, records)
    with pytest.raises(EndpointError, match="no address for kafka:"):
        _resolve(_settings(tmp_path))


def test_only_required_services_must_resolve(tmp_path: Path) -> None:
    settings = _settings(tmp_path, clickhouse={"url": "http://db:8123"})
    endpoints = _resolve(settings, require=("clickhouse",))
    assert endpoints.kafka_bootstrap == ""
    with pytest.raises(EndpointError, match="smtp"):
        _resolve(settings, require=("smtp",))


def test_corrupt_stack_file_is_explained(tmp_path: Path) -> None:
    stackfile.path_in(tmp_path).write_text("{not json")
    with pytest.raises(StackError, match=r"stack\.json is unreadable"):
        _resolve(_settings(tmp_path))
