"""Burrow-style lag evaluation: ok, growing, stalled, stopped, rewound, and the zero-lag guard."""

from __future__ import annotations

from monitor.burrow import LagVerdict, OffsetSample, evaluate
from tickwatch.types import Status


def window(*pairs: tuple[int, int]) -> list[OffsetSample]:
    return [OffsetSample(float(i), committed, end) for i, (committed, end) in enumerate(pairs)]


def test_not_enough_samples_is_warming_up_and_ok() -> None:
    verdict = evaluate(window((0, 10), (0, 20)), 5, owned=True)
    assert verdict is LagVerdict.WARMING
    assert verdict.status is Status.OK


def test_consumer_keeping_up_is_ok() -> None:
    w = window((100, 150), (160, 170), (200, 260), (280, 300), (330, 360))
    assert evaluate(w, 5, owned=True) is LagVerdict.OK


def test_zero_lag_anywhere_in_the_window_is_ok() -> None:
    w = window((100, 100), (100, 110), (100, 120), (100, 130), (100, 140))
    assert evaluate(w, 5, owned=True) is LagVerdict.OK


def test_offsets_moving_but_lag_rising_at_every_sample_is_growing_warn() -> None:
    w = window((100, 150), (110, 170), (120, 190), (130, 210), (140, 250))
    verdict = evaluate(w, 5, owned=True)
    assert verdict is LagVerdict.GROWING
    assert verdict.status is Status.WARN


def test_constant_positive_lag_is_not_growing() -> None:
    w = window((100, 150), (110, 160), (120, 170), (130, 180), (140, 190))
    assert evaluate(w, 5, owned=True) is LagVerdict.OK


def test_frozen_offsets_with_lag_and_a_live_owner_is_stalled_crit() -> None:
    w = window((100, 150), (100, 160), (100, 170), (100, 180), (100, 190))
    verdict = evaluate(w, 5, owned=True)
    assert verdict is LagVerdict.STALLED
    assert verdict.status is Status.CRIT


def test_frozen_offsets_with_lag_and_no_owner_is_stopped_crit() -> None:
    w = window((100, 150), (100, 150), (100, 150), (100, 150), (100, 150))
    verdict = evaluate(w, 5, owned=False)
    assert verdict is LagVerdict.STOPPED
    assert verdict.status is Status.CRIT


def test_offset_going_backwards_is_rewound_even_with_zero_lag() -> None:
    w = window((100, 200), (200, 200), (50, 200), (120, 200), (200, 200))
    verdict = evaluate(w, 5, owned=True)
    assert verdict is LagVerdict.REWOUND
    assert verdict.status is Status.WARN


def test_only_the_last_window_counts() -> None:
    w = window((300, 300), (50, 300), (100, 300), (150, 300), (200, 300), (250, 300))
    assert evaluate(w, 5, owned=True) is LagVerdict.OK  # the rewind left the window
