"""The latency scenario's histogram arithmetic (bench.histogram) and the window it reads from
two scrapes of the load worker's ``/metrics``, without services: expositions in, exact shares,
interpolated quantiles and verdicts out."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from bench import goals
from bench import histogram as hist
from bench.errors import BenchError
from bench.histogram import Buckets
from bench.scenarios.latency import Returned, Spread
from tickwatch.telemetry.catalog import LoadMetrics
from tickwatch.telemetry.definitions import END_TO_END_BUCKETS

# 10 observations: 2 ≤ 0.1, 3 more ≤ 0.12, 4 more ≤ 0.25, 1 above 1 s.
TEN = Buckets((0.1, 0.12, 0.25, 1.0), (2, 5, 9, 9, 10))


def _q(b: Buckets, q: float) -> tuple[object, tuple[float, float]]:
    return hist.quantile(b, q)


def test_share_at_or_below_a_bound_is_exact() -> None:
    assert hist.share_at_or_below(TEN, 0.12) == 0.5
    assert hist.share_at_or_below(TEN, 0.25) == 0.9
    assert hist.share_at_or_below(TEN, 1.0) == 0.9


def test_share_refuses_a_threshold_that_is_not_a_bound() -> None:
    with pytest.raises(BenchError, match=r"0\.2 s is not a bucket bound"):
        hist.share_at_or_below(TEN, 0.2)


def test_quantiles_are_linear_within_their_bucket_and_name_it() -> None:
    assert _q(TEN, 0.5) == (pytest.approx(0.12), (0.1, 0.12))
    value, within = hist.quantile(TEN, 0.7)  # rank 7: 2 of the 4 in (0.12, 0.25]
    assert value == pytest.approx(0.12 + 0.13 * 2 / 4)
    assert within == (0.12, 0.25)
    assert _q(TEN, 0.1) == (pytest.approx(0.05), (0.0, 0.1))  # the first from 0


def test_a_quantile_past_the_last_bound_is_that_bound() -> None:
    assert hist.quantile(TEN, 0.99) == (1.0, (1.0, math.inf))


def test_empty_buckets_are_skipped_by_the_interpolation() -> None:
    b = Buckets((0.1, 0.2, 0.3), (0, 0, 4, 4))
    assert _q(b, 0.5) == (pytest.approx(0.25), (0.2, 0.3))


def test_goal_met_exactly_when_the_share_reaches_the_quantile() -> None:
    assert hist.goal_met(TEN, 0.5, 0.12)  # 50 % ≤ 120 ms: p50 ≤ 120 ms
    assert not hist.goal_met(TEN, 0.99, 0.25)  # 90 % ≤ 250 ms: p99 above it
    assert goals.E2E_P50_AT_1K.verdict(0.5) == "met"
    assert goals.E2E_P99_AT_10K.verdict(0.9) == "missed: 90.00% ≤ 250 ms, needs ≥ 99%"


def test_delta_is_per_bucket_and_refuses_a_reset() -> None:
    before = Buckets((0.1, 1.0), (1, 2, 3))
    after = Buckets((0.1, 1.0), (4, 6, 9))
    assert hist.delta(after, before) == Buckets((0.1, 1.0), (3, 4, 6))
    assert hist.delta(after, None) == after
    with pytest.raises(BenchError, match="went down"):
        hist.delta(before, after)


def test_merged_sums_types_with_the_same_bounds() -> None:
    a, b = Buckets((0.1,), (1, 2)), Buckets((0.1,), (3, 3))
    assert hist.merged([a, b]) == Buckets((0.1,), (4, 5))
    with pytest.raises(BenchError, match="different bucket bounds"):
        hist.merged([a, Buckets((0.2,), (1, 1))])


def _exposition(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_the_window_counts_only_rows_inserted_between_the_scrapes_per_type() -> None:
    registry = CollectorRegistry()
    load = LoadMetrics(registry)
    load.end_to_end("trade", [5.0] * 100, [5.0] * 100)  # warm-up: left out
    before = _exposition(registry)
    load.end_to_end("trade", [0.05] * 60 + [0.2] * 40, [0.01] * 100)
    load.end_to_end("quote", [0.3] * 10, [0.3] * 10)
    load.end_to_end("bar", [60.0] * 5, [1.0] * 5)  # a bar's event time is its interval's start
    window = Returned.between(before, _exposition(registry))
    assert window.types == ("quote", "trade")  # bars left out
    event, kafka = window.overall()
    assert event.rows == 110
    assert event.shares == pytest.approx((60 / 110, 100 / 110, 1.0))  # ≤ 0.12, 0.25, 1 s
    assert kafka is not None and kafka.shares[0] == pytest.approx(100 / 110)
    trade, _ = window.per_type()["trade"]
    value, within = trade.quantiles[0]
    assert value == pytest.approx(0.025 + 0.025 * 50 / 60)
    assert within == (0.025, 0.05)
    assert trade.quantiles[2][1] == (0.15, 0.2)


def test_a_window_without_inserts_is_an_error() -> None:
    registry = CollectorRegistry()
    load = LoadMetrics(registry)
    load.end_to_end("trade", [0.1], [0.1])
    text = _exposition(registry)
    with pytest.raises(BenchError, match="no tickwatch_load_event_to_insert_seconds"):
        Returned.between(text, text)


def test_every_goal_threshold_is_a_bucket_bound() -> None:
    for goal in goals.LATENCY_BY_RATE.values():
        assert goal.bound_s in END_TO_END_BUCKETS
    spread = Spread.of(Buckets(END_TO_END_BUCKETS, (1,) * (len(END_TO_END_BUCKETS) + 1)))
    assert spread.shares == (1.0, 1.0, 1.0)
