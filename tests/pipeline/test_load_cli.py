"""The load worker's entry point: settings in, exit code out."""

from __future__ import annotations

from pipeline.load_cli import EXIT_UNREACHABLE, run_load
from tickwatch.settings import (
    ClickHouseSettings,
    KafkaSettings,
    LoadSettings,
    Settings,
    TelemetrySettings,
)


def unreachable() -> Settings:
    return Settings(
        _env_file=None,
        kafka=KafkaSettings(bootstrap="127.0.0.1:1"),
        clickhouse=ClickHouseSettings(url="http://127.0.0.1:1", connect_timeout_s=1),
        load=LoadSettings(metrics_port=0),
        telemetry=TelemetrySettings(enabled=False),
    )


def test_unreachable_services_fail_fast_with_exit_code_2() -> None:
    assert run_load(unreachable()) == EXIT_UNREACHABLE
