"""The floor scenario and the bound derived from it: the arithmetic (pure), the pass loop over
an in-memory consumer, the consumer settings against the load worker's, and the scenario end to
end against the harness's Kafka and ClickHouse. Timings are never asserted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from bench import goals, ratios, wire_candidates
from bench.cli import main
from bench.deadline import Deadline
from bench.errors import BenchError
from bench.figures import Figure, ScenarioOutcome
from bench.scenarios import floor, selected
from bench.tape import TradeTape
from pipeline import load_cli
from pipeline.codec import RecordType
from pipeline.codec.columnar import read_joined
from tickwatch.settings import Settings
from tickwatch.telemetry import LoadMetrics

PASSES_OF_JSON = (floor.CONSUME, floor.DECODE)
CEILING = [
    Figure("ceiling", "rows/s (steady)", 1_000_000.0, "rows/s"),
    Figure("ceiling", "CPU per 1M rows (server)", 1.0, "s"),
]


def floor_figures(broker: float | None = 0.25, *, candidates: bool = True) -> list[Figure]:
    out = []
    passes = [(floor.CONSUME, 0.75), (floor.DECODE, 2.75)]
    passes += [(label, 1.1) for label in floor.CANDIDATES] if candidates else []
    for label, consumer in passes:
        out += [
            Figure("floor", floor.rate_name(label), 400_000.0, "rows/s"),
            Figure("floor", floor.consumer_cpu_name(label), consumer, "s"),
            Figure("floor", floor.broker_cpu_name(label), broker, "s"),
        ]
    return [*out, Figure("floor", floor.CORES, 2.0, "cores")]


def derived(*figures: list[Figure]) -> dict[str, Figure]:
    outcomes = [ScenarioOutcome(f[0].scenario, "ok", 1.0, f) for f in figures]
    result = ratios.derive(outcomes)
    assert result is not None
    return {f.name: f for f in result.figures}


# ------------------------------------------------------------------ the arithmetic


def test_the_bound_is_the_rows_per_second_that_fit_in_the_cores() -> None:
    bound = ratios.cpu_bound(2, [("consumer", 0.5), ("broker", 0.5), ("server", 1.0)], 2e6)
    assert bound.cpu_per_million_s == 2.0
    assert bound.rows_per_s == pytest.approx(1_000_000.0)
    assert bound.vs_ceiling == pytest.approx(0.5)


def test_the_bound_never_exceeds_the_ceiling_itself() -> None:
    bound = ratios.cpu_bound(2, [("consumer", 0.1), ("server", 0.1)], 1e6)
    assert bound.rows_per_s == pytest.approx(1e7)
    assert bound.vs_ceiling == 1.0


@pytest.mark.parametrize(
    ("cores", "parts", "ceiling"),
    [(0, [("server", 1.0)], 1e6), (2, [("server", 0.0)], 1e6), (2, [("server", 1.0)], 0),
     (2, [("server", 1.0), ("broker", -0.5)], 1e6)],
)  # fmt: skip
def test_no_bound_is_derived_from_a_non_positive_input(
    cores: float, parts: list[tuple[str, float]], ceiling: float
) -> None:
    with pytest.raises(ValueError, match="must"):
        ratios.cpu_bound(cores, parts, ceiling)


def test_each_floor_pass_gives_a_bound_beside_the_ceiling_goal_labelled_as_derived() -> None:
    figures = derived(CEILING, floor_figures())
    alone = figures["bound: any one-message-per-tick consumer / ceiling (derived)"]
    json_v1 = figures["bound: any JSON v1 consumer / ceiling (derived)"]
    # 2 cores / (0.75 + 0.25 + 1.0) µs a row = 1M rows/s; / (2.75 + 0.25 + 1.0) = 500k rows/s
    assert alone.value == pytest.approx(1.0) and alone.verdict() == "met"
    assert json_v1.value == pytest.approx(0.5) and json_v1.verdict() == "missed by 17%"
    for figure in (alone, json_v1):
        assert figure.goal is goals.CEILING_BOUND and figure.goal.target == goals.VS_CEILING.target
        assert figure.note.startswith("derived from measured per-row costs, not measured")
        assert "perfect overlap" in figure.note and "no commits" in figure.note
        assert figure.extra["derived"] is True
        assert set(figure.extra["cpu_per_million_s"]) == {"consumer", "broker", "server"}
        assert figure.extra["one_consumer_measured_rows_per_s"] == 400_000
    assert json_v1.extra["bound_rows_per_s"] == 500_000
    assert "capped" not in alone.note  # exactly 1x: nothing cut off


def test_each_candidate_pass_gives_a_bound_and_its_cost_beside_json_v1_s() -> None:
    figures = derived(CEILING, floor_figures())
    names = [name for label, name in ratios.BOUNDS if label in floor.CANDIDATES]
    assert len(names) == 1 + len(floor.BLOCK_RATES)
    for name in names:
        # 2 cores / (1.1 + 0.25 + 1.0) CPU-s per 1M rows = 851k rows/s
        assert figures[name].value == pytest.approx(2 / 2.35 / 1.0)
        assert figures[name].note.startswith("derived from measured per-row costs")
    for label in floor.CANDIDATES:
        versus = figures[ratios.versus_json_name(label)]
        assert versus.value == pytest.approx(1.1 / 2.75) and "measured ÷ measured" in versus.note


def test_candidate_bounds_are_left_out_when_their_passes_did_not_run() -> None:
    figures = derived(CEILING, floor_figures(candidates=False))
    assert set(figures) == {name for label, name in ratios.BOUNDS if label in PASSES_OF_JSON}


def test_a_bound_above_the_ceiling_is_capped_and_says_by_how_much() -> None:
    cheap = [f if "consumer CPU" not in f.name else Figure("floor", f.name, 0.25, "s")
             for f in floor_figures()]  # fmt: skip
    figure = derived(CEILING, cheap)["bound: any one-message-per-tick consumer / ceiling (derived)"]
    # 2 cores / (0.25 + 0.25 + 1.0) CPU-s per 1M rows = 1.33M rows/s, above the ceiling's 1M
    assert figure.value == 1.0 and "= 1.33× the ceiling's rows/s, capped at 1×" in figure.note


def test_a_bound_without_a_measured_part_says_which_is_missing() -> None:
    bounds = {name for _, name in ratios.BOUNDS}
    figures = derived(CEILING, floor_figures(broker=None))
    assert bounds <= set(figures)
    assert all(figures[n].value is None and "no broker CPU per row" in figures[n].note
               for n in bounds)  # fmt: skip
    figures = derived(floor_figures())
    assert bounds <= set(figures)
    assert all(figures[n].value is None and "needs the ceiling scenario" in figures[n].note
               for n in bounds)  # fmt: skip


def test_without_the_floor_scenario_the_ratios_are_the_references_only() -> None:
    load = [Figure("load", "rows/s (steady)", 300_000.0, "rows/s")]
    assert set(derived(load, CEILING)) == {"tickwatch / ceiling"}
    versus = {ratios.versus_json_name(label) for label in floor.CANDIDATES}
    assert set(derived(CEILING, floor_figures())) == {n for _, n in ratios.BOUNDS} | versus


# ------------------------------------------------------------------ the pass loop


class Message:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value


class PolledConsumer:
    """An in-memory consumer: hands out the given polls, then empty ones; ``position`` reports
    ``read`` offsets on one partition."""

    def __init__(self, polls: list[list[Message]], read: int | None = None) -> None:
        self._polls = list(polls)
        self.read = sum(len(p) for p in polls) if read is None else read
        self.batches: list[int] = []

    def consume(self, num_messages: int, timeout: float) -> list[Message]:
        self.batches.append(num_messages)
        return self._polls.pop(0) if self._polls else []

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("t", 0), TopicPartition("t", 1)]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition("t", 0, self.read), TopicPartition("t", 1, -1001)]


class Meter:
    def __init__(self, used: float | None) -> None:
        self._used = used

    def used(self) -> float | None:
        return self._used


def meters_started() -> tuple[list[int], Any]:
    started: list[int] = []

    def meters() -> floor.Meters:
        started.append(len(started))
        return floor.Meters(Meter(0.5 + len(started)), Meter(0.5), Meter(None))

    return started, meters


def polls(*sizes: int) -> list[list[Message]]:
    return [[Message(b"{}")] * n for n in sizes]


def test_a_pass_is_measured_from_its_first_poll_that_brought_messages() -> None:
    consumer = PolledConsumer([[], *polls(3, 4, 5)])
    started, meters = meters_started()
    result = floor.drain(
        consumer, 12, floor.count_messages, "alone", poll_batch=7, meters=meters,
        deadline=Deadline(30),
    )  # fmt: skip
    assert result.rows == 9  # the first poll's 3 are before the clock
    assert result.seconds > 0 and result.rows_per_s > 0
    assert started == [0, 1]  # at the start, then at the first poll: that one is used
    assert result.consumer_cpu_s == 2.5 and result.broker_cpu_s is None
    assert result.main_thread_cpu_s == 0.5
    assert result.per_million(result.consumer_cpu_s) == pytest.approx(2.5 / 9e-6)
    assert result.per_million(None) is None
    assert set(consumer.batches) == {7}


def test_a_topic_read_in_one_poll_is_measured_over_the_whole_pass() -> None:
    result = floor.drain(
        PolledConsumer(polls(5)), 5, floor.count_messages, "alone", poll_batch=10,
        meters=meters_started()[1], deadline=Deadline(30),
    )  # fmt: skip
    assert result.rows == 5 and result.consumer_cpu_s == 1.5  # the meters from the start


def test_a_pass_whose_positions_do_not_add_up_to_the_topic_fails() -> None:
    with pytest.raises(BenchError, match="positions add up to 5"):
        floor.drain(
            PolledConsumer(polls(3, 3), read=5), 6, floor.count_messages, "alone",
            poll_batch=10, meters=meters_started()[1], deadline=Deadline(30),
        )  # fmt: skip


def test_a_block_pass_counts_rows_and_checks_positions_against_messages() -> None:
    consumer = PolledConsumer([*polls(2, 3)])  # 5 messages, each a block of 10 rows
    result = floor.drain(
        consumer, 50, lambda m: 10 * len(m), "blocks", poll_batch=10,
        meters=meters_started()[1], deadline=Deadline(30), messages=5,
    )  # fmt: skip
    assert result.rows == 30  # rows after the first poll's 20
    with pytest.raises(BenchError, match="holds 50 rows in 4 messages"):
        floor.drain(
            PolledConsumer([*polls(2, 3)]), 50, lambda m: 10 * len(m), "blocks",
            poll_batch=10, meters=meters_started()[1], deadline=Deadline(30), messages=4,
        )  # fmt: skip


def test_the_candidate_passes_decode_their_encodings_into_rows() -> None:
    _, values = next(TradeTape(50, seed=3, symbols=4, start_us=1_700_000_000_000_000).chunks())
    table = read_joined(b"\n".join(values), RecordType.TRADE).drop_columns(["v", "type"])
    binary = [Message(v) for v in wire_candidates.encode_rows(table)]
    assert floor.decode_binary(binary) == 50
    blocks = [Message(wire_candidates.encode_block(table.slice(i, 20))) for i in (0, 20, 40)]
    assert floor.decode_arrow_blocks(blocks) == 50


def test_the_collector_is_off_during_a_pass_and_restored_after() -> None:
    import gc

    assert gc.isenabled()
    with floor.without_collector():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with floor.without_collector():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_the_decode_pass_reads_the_wire_format_into_columns() -> None:
    _, values = next(TradeTape(50, seed=3, symbols=4, start_us=1_700_000_000_000_000).chunks())
    assert floor.decode_columns([Message(v) for v in values]) == 50


# ------------------------------------------------------------------ the wiring


def test_the_floor_runs_after_the_ceiling_and_its_figures_become_bounds() -> None:
    names = [s.name for s in selected(())]
    assert names.index("floor") == names.index("ceiling") + 1
    assert [s.name for s in selected(("floor",))] == ["floor"]
    figures = floor.figures(floor.PassResult(floor.CONSUME, 2_000_000, 4.0, 3.0, None, 1.0))
    assert figures[1].note == "main thread 0.50 s, the rest librdkafka's threads"
    assert [(f.name, f.value) for f in figures] == [
        (floor.rate_name(floor.CONSUME), 500_000.0),
        (floor.consumer_cpu_name(floor.CONSUME), 1.5),
        (floor.broker_cpu_name(floor.CONSUME), None),
    ]
    assert "did not start the broker" in figures[2].note


def test_the_passes_consume_with_the_load_worker_s_own_consumer_settings(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever build_worker gives librdkafka is what the floor's consumer gets."""
    configs: list[dict[str, Any]] = []

    class Recorded:
        def __init__(self, conf: dict[str, Any]) -> None:
            configs.append(conf)

    monkeypatch.setattr(load_cli, "Consumer", Recorded)
    monkeypatch.setattr(load_cli, "Producer", Recorded)
    settings = Settings(_env_file=None)
    group = settings.kafka.consumer_group
    no_client: Any = object()  # build_worker only keeps it; nothing is sent
    load_cli.build_worker(settings, "127.0.0.1:9", no_client, LoadMetrics(CollectorRegistry()))
    worker = next(c for c in configs if c.get("group.id") == group)
    assert floor.consumer_settings("127.0.0.1:9", group, settings.load, settings.kafka) == worker


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_the_floor_scenario_runs_against_real_kafka(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    code = main(
        [
            "--trades", "3000", "--timeout", "120", "--only", "ceiling,floor",
            "--kafka-bootstrap", kafka_bootstrap, "--clickhouse-url", clickhouse_url,
            "--results-dir", str(tmp_path),
        ]
    )  # fmt: skip

    assert code == 0
    results = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert {n: s["status"] for n, s in results["scenarios"].items()} == {
        "prefill": "ok", "ceiling": "ok", "floor": "ok", "ratios": "ok",
    }  # fmt: skip
    figures = {(f["scenario"], f["name"]): f for f in results["figures"]}
    for label in (floor.CONSUME, floor.DECODE, *floor.CANDIDATES):
        assert figures[("floor", floor.rate_name(label))]["value"] > 0
        assert figures[("floor", floor.consumer_cpu_name(label))]["value"] > 0
        # the harness's broker is not the bench's: its CPU is not this run's to measure
        assert figures[("floor", floor.broker_cpu_name(label))]["value"] is None
    assert figures[("floor", floor.CORES)]["value"] >= 1
    assert "load average" in figures[("floor", floor.CORES)]["note"]
    for label in floor.CANDIDATES:  # each over the same 3,000 trades in its own topic
        note = figures[("floor", floor.rate_name(label))]["note"]
        assert ("rows a message" in note) is (label != floor.ROWS)
        assert "value bytes a row before lz4 (JSON v1: " in note
        assert figures[("ratios", ratios.versus_json_name(label))]["value"] > 0
    for _, name in ratios.BOUNDS:
        assert "not measured: no broker" in figures[("ratios", name)]["shown"]
