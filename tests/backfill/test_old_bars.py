"""Backfilled bars are old: the load's validation takes bars up to ``load.bar_max_past_s`` old
while trades and quotes keep ``load.max_past_s``."""

from __future__ import annotations

import pytest

from pipeline.codec import Bar, RecordType, Trade, to_wire
from pipeline.codec.validate import ValidationRules, validate
from pipeline.errors import InvalidMessage
from tickwatch.settings import LoadSettings

NOW_US = 1_796_000_000_000_000
YEAR_US = 365 * 86_400 * 1_000_000
RULES = ValidationRules.from_settings(LoadSettings())


def test_a_bar_from_last_year_is_valid() -> None:
    bar = Bar("AAPL", NOW_US - YEAR_US, 60, 1.0, 2.0, 0.5, 1.5, 10.0, source="polygon")
    row = validate(to_wire(bar, NOW_US), RecordType.BAR, RULES, NOW_US)
    assert row[0] == "AAPL"


def test_a_trade_from_last_year_is_still_too_old() -> None:
    trade = Trade("AAPL", NOW_US - YEAR_US, 1.0, 1.0)
    with pytest.raises(InvalidMessage) as caught:
        validate(to_wire(trade, NOW_US), RecordType.TRADE, RULES, NOW_US)
    assert caught.value.reason == "too_old"


def test_a_bar_older_than_bar_max_past_is_too_old() -> None:
    rules = ValidationRules.from_settings(LoadSettings(bar_max_past_s=86_400))
    bar = Bar("AAPL", NOW_US - 2 * 86_400_000_000, 60, 1.0, 2.0, 0.5, 1.5, 10.0)
    with pytest.raises(InvalidMessage) as caught:
        validate(to_wire(bar, NOW_US), RecordType.BAR, rules, NOW_US)
    assert caught.value.reason == "too_old"
