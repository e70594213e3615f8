"""The load consumer fetch settings (issue 18): reach librdkafka, bad values stop start-up."""

from __future__ import annotations

import pytest

from pipeline.load_cli import fetch_config
from tickwatch.settings import ConfigError, LoadSettings, load_settings


def test_defaults_let_the_broker_hold_a_fetch_for_16_kb_or_50_ms() -> None:
    assert fetch_config(LoadSettings()) == {"fetch.min.bytes": 16_384, "fetch.wait.max.ms": 50}


def test_configured_values_reach_the_consumer_config() -> None:
    settings = load_settings(_env_file=None, load={"fetch_min_bytes": 1, "fetch_wait_max_ms": 20})
    assert fetch_config(settings.load) == {"fetch.min.bytes": 1, "fetch.wait.max.ms": 20}


@pytest.mark.parametrize(
    ("key", "value"),
    [("fetch_wait_max_ms", 0), ("fetch_wait_max_ms", 5_000), ("fetch_min_bytes", 0)],
)
def test_bad_values_stop_at_start_up_naming_the_key(key: str, value: int) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(_env_file=None, load={key: value})
