"""The early cut's arrival rate (:class:`pipeline.load.arrivals.ArrivalRate`): messages per
second over a sliding window, from counts sampled once per loop, on explicit clock readings."""

from __future__ import annotations

import pytest

from pipeline.load.arrivals import SAMPLES_PER_WINDOW, ArrivalRate


def feed(rate: ArrivalRate, per_s: float, start: float, seconds: float, step: float) -> float:
    """``per_s`` messages a second, counted and sampled every ``step``; returns the end time."""
    now, owed = start, 0.0
    while now < start + seconds - 1e-9:
        now += step
        owed += per_s * step
        rate.count += int(owed)
        owed -= int(owed)
        rate.sample(now)
    return now


def test_a_steady_feed_reads_as_its_rate() -> None:
    rate = ArrivalRate(1.0, 0.12, 0.0)
    end = feed(rate, 333, 0.0, 5.0, 0.05)
    assert rate.per_s(end) == pytest.approx(333, rel=0.06)


def test_the_first_poll_counts_over_at_least_the_floor() -> None:
    rate = ArrivalRate(1.0, 0.12, 0.0)
    rate.count = 12
    assert rate.per_s(0.01) == pytest.approx(100)  # 12 over 0.12 s, not over 0.01 s


def test_a_stall_and_its_catch_up_stay_within_the_window() -> None:
    """A producer silent for half a second, then delivering what it owed at once."""
    rate = ArrivalRate(1.0, 0.12, 0.0)
    end = feed(rate, 133, 0.0, 3.0, 0.05)
    end = feed(rate, 0, end, 0.5, 0.05)
    rate.count += 66  # the half second owed
    rate.sample(end)
    assert rate.per_s(end) < 250


def test_a_quiet_spell_is_forgotten_after_one_window() -> None:
    rate = ArrivalRate(1.0, 0.12, 0.0)
    end = feed(rate, 0, 0.0, 10.0, 0.05)
    end = feed(rate, 667, end, 1.1, 0.05)
    assert rate.per_s(end) == pytest.approx(667, rel=0.08)


def test_the_samples_stay_few() -> None:
    rate = ArrivalRate(1.0, 0.12, 0.0)
    feed(rate, 1000, 0.0, 10.0, 0.001)
    assert rate.kept <= SAMPLES_PER_WINDOW + 2
