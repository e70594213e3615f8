"""The latency scenario's visible-time mapping (bench.visibility) and its summary, without
services: poll observations in, per-row visible times and quantiles out."""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import pytest
from clickhouse_connect.driver.client import Client

from bench.errors import BenchError
from bench.histogram import Buckets
from bench.scenarios.latency import Returned, TableRows, figures, summarize
from bench.visibility import PartWatcher, VisibilityLog


def _log() -> VisibilityLog:
    """Polls at snapshots 1.0, 1.1, 1.2, 1.3 (each answered 2 ms after it was sent)."""
    log = VisibilityLog(started=0.9)
    log.observe(0.999, 1.001, {})
    log.observe(1.099, 1.101, {("trades", 0): 9, ("trades", 1): 4})
    log.observe(1.199, 1.201, {("trades", 0): 9})  # a merged part: nothing new
    log.observe(1.299, 1.301, {("trades", 0): 19, ("quotes", 0): 2})
    return log


def test_a_row_is_visible_midway_between_the_poll_that_showed_it_and_the_one_before() -> None:
    at = _log().visible_at("trades", [0, 0, 0, 0, 1], [0, 9, 10, 19, 4])
    assert at.tolist() == pytest.approx([1.05, 1.05, 1.25, 1.25, 1.05])


def test_a_lower_or_equal_highest_offset_is_no_new_sighting() -> None:
    log = _log()
    log.observe(1.399, 1.401, {("trades", 0): 12})
    assert log.highest(("trades", 0)) == 19
    assert log.visible_at("trades", [0], [15]).tolist() == pytest.approx([1.25])


def test_rows_never_shown_are_nan_and_tables_are_kept_apart() -> None:
    log = _log()
    at = log.visible_at("trades", [0, 2], [20, 0])
    assert all(math.isnan(v) for v in at)
    assert log.visible_at("quotes", [0], [2]).tolist() == pytest.approx([1.25])
    assert log.highest(("quotes", 1)) == -1


def test_the_first_poll_counts_from_the_watchers_start() -> None:
    log = VisibilityLog(started=10.0)
    log.observe(10.1, 10.1, {("trades", 3): 0})
    assert log.visible_at("trades", [3], [0]).tolist() == pytest.approx([10.05])


def test_gaps_are_the_resolution() -> None:
    assert _log().gaps.tolist() == pytest.approx([0.1, 0.1, 0.1])


def _rows(
    table: str, offsets: list[int], event_s: list[float], inserted_s: list[float]
) -> TableRows:
    us = [round(v * 1e6) for v in event_s]
    return TableRows(
        table,
        np.zeros(len(offsets), dtype=np.int64),
        np.asarray(offsets, dtype=np.int64),
        np.asarray(us, dtype=np.int64),
        np.asarray(us, dtype=np.int64) + 10_000,  # Kafka 10 ms after the event
        np.asarray([round(v * 1e6) for v in inserted_s], dtype=np.int64),
    )


# Rows whose INSERT returned in the window: 8 ≤ 0.1 s, 2 ≤ 0.25 s.
RETURNED = Returned(
    {"trade": Buckets((0.1, 0.12, 0.25, 1.0), (8, 8, 10, 10, 10))},
    {"trade": Buckets((0.1, 0.12, 0.25, 1.0), (10, 10, 10, 10, 10))},
)


def test_summary_gives_visible_and_insert_start_delays_overall_and_per_table() -> None:
    log = VisibilityLog(started=0.0)
    log.observe(1.0, 1.0, {})
    log.observe(1.2, 1.2, {("trades", 0): 1, ("quotes", 0): 0})  # visible at 1.1
    trades = _rows("trades", [0, 1], [1.0, 1.0], [1.05, 1.05])
    quotes = _rows("quotes", [0], [1.0], [1.05])
    result = summarize(
        1000, RETURNED, [trades, quotes], log=log, inserts={"trades": (5.0, 0.02)}, server_cpu=0.1
    )
    assert result.rows == 3
    assert result.delays.event_to_visible == pytest.approx((0.1, 0.1, 0.1))
    assert result.delays.kafka_to_visible == pytest.approx((0.09, 0.09, 0.09))
    assert result.delays.event_to_insert == pytest.approx((0.05, 0.05, 0.05))
    assert [t.table for t in result.tables] == ["trades", "quotes"]
    assert result.tables[0].inserts_per_s == 5.0
    assert result.poll_gap_s == pytest.approx((0.2, 0.2))


def test_summary_without_a_watcher_has_only_the_insert_start_delays() -> None:
    result = summarize(1000, RETURNED, [_rows("trades", [0], [1.0], [1.05])], log=None, inserts={})
    assert result.delays.event_to_visible == ()
    assert result.delays.event_to_insert == pytest.approx((0.05, 0.05, 0.05))


def test_the_goal_is_judged_on_the_returned_share_and_the_rest_stays_beside() -> None:
    result = summarize(
        10_000, RETURNED, [_rows("trades", [0], [1.0], [1.05])], log=None, inserts={}
    )
    shown = {f.name: f for f in figures(result)}
    goal = shown["rows ≤ 250 ms @ 10k/s"]
    assert goal.value == 1.0 and goal.verdict() == "met"
    head = shown["event → row @ 10k/s"]
    assert head.goal is None and "within [0, 100] · [120, 250] · [120, 250] ms" in head.display
    assert "10 rows (trade) whose INSERT returned" in head.note
    assert shown["event → INSERT start @ 10k/s"].value == pytest.approx(0.05)
    assert not any("visible" in name for name in shown)  # no watcher


def test_summary_refuses_rows_no_poll_showed() -> None:
    log = VisibilityLog(started=0.0)
    log.observe(1.0, 1.0, {("trades", 0): 0})
    with pytest.raises(BenchError, match="1 rows of trades were never seen visible"):
        summarize(
            1000, RETURNED, [_rows("trades", [0, 1], [1.0, 1.0], [1.0, 1.0])], log=log, inserts={}
        )


Row = tuple[object, ...]


class _Answer:
    def __init__(self, rows: list[tuple[object, ...]]) -> None:
        self.result_rows = rows


class _ScriptedClickHouse:
    """An in-memory stand-in answering the watcher's two queries from a script of polls."""

    def __init__(self, polls: list[list[Row]], parts: dict[str, list[tuple[int, int]]]) -> None:
        self._polls = polls
        self._parts = parts  # part name -> (Kafka partition, highest offset) rows
        self.read: list[list[str]] = []

    def query(self, sql: str, parameters: dict[str, object]) -> _Answer:
        if "system.parts" in sql:
            return _Answer(self._polls.pop(0))
        names = list(parameters["parts"])  # type: ignore[call-overload]
        self.read.append(names)
        return _Answer([(n, p, o) for n in names for p, o in self._parts.get(n, [])])


def test_the_watcher_reads_new_parts_only_and_skips_merges_of_seen_blocks() -> None:
    polls: list[list[Row]] = [
        [("trades", "d_1_1_0", 0, 1, 1)],
        [("trades", "d_1_1_0", 0, 1, 1), ("trades", "d_2_2_0", 0, 2, 2)],
        [("trades", "d_1_2_1", 1, 1, 2)],  # merged: blocks 1 and 2 seen
        [("trades", "d_1_2_1", 1, 1, 2), ("trades", "d_3_3_0", 0, 3, 3)],  # 3 merged away
    ]
    parts = {"d_1_1_0": [(0, 9)], "d_2_2_0": [(0, 19), (1, 5)]}
    client = _ScriptedClickHouse(polls, parts)
    watcher = PartWatcher(cast(Client, client), "m", ["trades"], 0.01)
    for _ in range(4):
        watcher.poll()
    assert client.read == [["d_1_1_0"], ["d_2_2_0"], ["d_3_3_0"]]
    assert watcher.vanished == 1
    assert watcher.log.highest(("trades", 0)) == 19
    assert watcher.log.highest(("trades", 1)) == 5
    assert watcher.polls == 4
