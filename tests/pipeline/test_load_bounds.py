"""One poll loop of the load worker is bounded below max.poll.interval.ms, checked at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import FatalError
from pipeline.load.worker import poll_loop_bound_s
from pipeline.load_cli import check_poll_interval
from tickwatch.settings import LoadSettings, Settings


def test_the_defaults_leave_room_below_the_poll_interval(isolated_env: Path) -> None:
    load = LoadSettings()
    assert poll_loop_bound_s(load, 5.0) < load.max_poll_interval_ms / 1000
    check_poll_interval(Settings(_env_file=None))


def test_a_poll_interval_the_loop_could_outlast_stops_the_worker_naming_the_keys(
    isolated_env: Path,
) -> None:
    settings = Settings(_env_file=None, load=LoadSettings(max_poll_interval_ms=30_000))
    with pytest.raises(FatalError) as caught:
        check_poll_interval(settings)
    for key in ("load.flush_budget_s", "load.insert_timeout_s", "load.max_poll_interval_ms"):
        assert key in str(caught.value)


def test_the_bound_grows_with_every_timeout() -> None:
    base = poll_loop_bound_s(LoadSettings(), 5.0)
    assert poll_loop_bound_s(LoadSettings(insert_timeout_s=30), 5.0) > base
    assert poll_loop_bound_s(LoadSettings(flush_budget_s=20), 5.0) > base
    assert poll_loop_bound_s(LoadSettings(kafka_timeout_s=20), 5.0) > base
