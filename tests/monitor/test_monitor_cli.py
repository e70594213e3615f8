"""``run_monitor`` refuses to start, with exit code 2, on configuration it cannot work with."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import run_monitor
from tickwatch.settings import (
    ClickHouseSettings,
    KafkaSettings,
    MonitorSettings,
    Settings,
    SmtpSettings,
    StackSettings,
    TelemetrySettings,
    TradingHoursSettings,
)


def settings(tmp_path: Path, **sections: object) -> Settings:
    base: dict[str, object] = {
        "stack": StackSettings(state_dir=tmp_path),
        "kafka": KafkaSettings(bootstrap="127.0.0.1:1"),
        "clickhouse": ClickHouseSettings(url="http://127.0.0.1:1"),
        "smtp": SmtpSettings(host="127.0.0.1", port=1),
        "telemetry": TelemetrySettings(enabled=False),
        "monitor": MonitorSettings(metrics_port=0),
    }
    return Settings(_env_file=None, **(base | sections))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "sections",
    [
        {"monitor": MonitorSettings(metrics_port=0, probe_urls="ftp://nowhere")},
        {"hours": TradingHoursSettings(calendars="equity=NOPE")},
        {"smtp": SmtpSettings(host="127.0.0.1", port=1, recipients=" , ")},
        {"kafka": KafkaSettings(bootstrap="")},  # no broker configured, no local stack
    ],
    ids=["bad-probe-url", "bad-calendar", "no-recipient", "no-kafka"],
)
def test_bad_configuration_exits_2(tmp_path: Path, sections: dict[str, object]) -> None:
    assert run_monitor(settings(tmp_path, **sections)) == 2
