"""The bench harness's own logic, without services: payloads, rates, verdicts, options."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from bench.cli import options_from
from bench.figures import Goal
from bench.profile import summarize
from bench.scenarios import selected
from bench.scenarios.ingest import steady_rate
from bench.tape import TradeTape
from bench.throughput import Throughput
from pipeline.codec import Trade, to_wire


def _tape() -> TradeTape:
    return TradeTape(count=250, seed=3, symbols=25, start_us=1_763_700_000_000_000)


def test_tape_is_repeatable_and_sized() -> None:
    first = [v for _, values in _tape().chunks(100) for v in values]
    second = [v for _, values in _tape().chunks(100) for v in values]
    assert first == second
    assert len(first) == 250


def test_tape_payloads_are_the_wire_format_of_a_trade() -> None:
    keys, values = next(_tape().chunks(10))
    body = orjson.loads(values[0])
    trade = Trade(
        symbol=body["symbol"], ts=body["ts"], price=body["price"], size=body["size"],
        exchange=body["exchange"], trade_id=body["trade_id"],
        conditions=tuple(body["conditions"]), source=body["source"], recv_ts=body["recv_ts"],
    )  # fmt: skip
    assert body == to_wire(trade)
    assert keys[0] == body["symbol"].encode()
    assert body["recv_ts"] > body["ts"]


def test_goal_verdicts_say_by_how_much() -> None:
    faster = Goal("≥ 100", 100.0, higher_is_better=True)
    sooner = Goal("≤ 10 s", 10.0, higher_is_better=False)
    assert faster.verdict(120.0) == "met"
    assert faster.verdict(25.0) == "missed by 75%"
    assert sooner.verdict(9.0) == "met"
    assert sooner.verdict(15.0) == "missed by 50%"


def test_throughput_excludes_start_up_from_the_steady_rate() -> None:
    measured = Throughput(rows=1_000, started=0.0, first_rows_at=2.0, first_rows=100, done_at=3.0)
    assert measured.rows_per_s == pytest.approx(900.0)
    assert measured.wall_rows_per_s == pytest.approx(1_000 / 3.0)


def test_steady_rate_spans_first_records_to_final_count() -> None:
    samples = [(0.0, 0), (1.0, 100), (2.0, 300), (3.0, 500), (4.0, 500)]
    assert steady_rate(samples) == pytest.approx(200.0)
    assert steady_rate([(0.0, 0), (1.0, 0)]) == 0.0


def test_options_parse_lists_and_reject_unknown_scenarios() -> None:
    options = options_from(["--only", "load,naive", "--rates", "1000,5000", "--trades", "10"])
    assert options.only == ("load", "naive")
    assert options.rates == (1000, 5000)
    assert [s.name for s in selected(options.only)] == ["load", "naive"]
    with pytest.raises(SystemExit):
        options_from(["--only", "nope"])


def test_idle_measures_the_steady_state_by_default_and_its_window_is_an_option() -> None:
    default = options_from([])
    assert default.idle_warmup_s >= 60.0 and default.idle_window_s >= 30.0
    short = options_from(["--idle-warmup", "0", "--idle-window", "5"])
    assert (short.idle_warmup_s, short.idle_window_s) == (0.0, 5.0)
    with pytest.raises(SystemExit):
        options_from(["--idle-window", "0"])


def test_profile_summary_reads_main_thread_stacks_only(tmp_path: Path) -> None:
    collapsed = tmp_path / "load.profile.txt"
    main = "_run_module_as_main (<frozen runpy>:198);run (pipeline/load/worker.py:108)"
    collapsed.write_text(
        f"{main};insert (pipeline/load/insert.py:80);readinto (socket.py:706) 30\n"
        f"{main};decode (pipeline/codec/decode.py:130) 70\n"
        "Thread._bootstrap (threading.py:1002);wait (threading.py:320) 500\n",
        encoding="utf-8",
    )
    summary = summarize(collapsed)
    assert summary.samples == 100
    assert summary.inclusive == [
        ("decode (pipeline/codec/decode.py:130)", 0.7),
        ("insert (pipeline/load/insert.py:80)", 0.3),
    ]
    assert summary.own[0] == ("decode (pipeline/codec/decode.py:130)", 0.7)


def test_ratios_put_the_load_rate_over_every_reference() -> None:
    from bench import ratios
    from bench.figures import Figure, ScenarioOutcome

    def outcome(name: str, figure: str, value: float) -> ScenarioOutcome:
        return ScenarioOutcome(name, "ok", 1.0, [Figure(name, figure, value, "rows/s")])

    derived = ratios.derive(
        [
            outcome("load", "rows/s (steady)", 100.0),
            outcome("kafka-engine", "rows/s (steady)", 50.0),
            outcome("ceiling", "rows/s (steady)", 200.0),
            outcome("naive", "rows/s", 10.0),
        ]
    )
    assert derived is not None
    assert {f.name: f.value for f in derived.figures} == {
        "tickwatch / Kafka engine": 2.0,
        "tickwatch / ceiling": 0.5,
        "tickwatch / naive consumer": 10.0,
    }


def test_previous_figures_come_from_the_last_results_file(tmp_path: Path) -> None:
    from bench.report import previous_figures

    assert previous_figures(tmp_path) == {}
    figures = [{"scenario": "load", "name": "rows/s (steady)", "shown": "1,000 rows/s"}]
    (tmp_path / "latest.json").write_bytes(orjson.dumps({"figures": figures}))
    assert previous_figures(tmp_path) == {("load", "rows/s (steady)"): "1,000 rows/s"}


def test_idle_cpu_is_read_from_proc_stat() -> None:
    import os

    from bench.scenarios.idle import cpu_ticks

    assert cpu_ticks(os.getpid()) >= 0


def test_idle_cpu_figures_cover_every_process_with_the_total_against_its_goal() -> None:
    import os

    from bench.scenarios.idle import CLICKHOUSE_CORE, TOTAL_CORE, _cpu_figures

    hz = os.sysconf("SC_CLK_TCK")
    before = {"ingest worker": 0, "load worker": 0, "detector": 0, "ClickHouse server": 0}
    after = {"ingest worker": hz, "load worker": hz, "detector": hz, "ClickHouse server": 2 * hz}
    figures = {f.name: f for f in _cpu_figures(before, after, seconds=10.0)}
    assert figures["CPU detector"].value == pytest.approx(0.1)
    assert figures["CPU total"].value == pytest.approx(0.5)
    assert figures["CPU total"].goal is TOTAL_CORE
    assert figures["CPU ClickHouse server"].goal is CLICKHOUSE_CORE


def test_idle_counts_insert_queries_per_table_from_the_load_workers_metrics() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from bench.scenarios.idle import insert_queries
    from tickwatch.telemetry.catalog import LoadMetrics

    registry = CollectorRegistry()
    metrics = LoadMetrics(registry)
    for rows in (10, 20):
        metrics.batch_inserted("m.trades", rows, 0.01)
    metrics.batch_inserted("m.quotes", 5, 0.01)
    exposition = generate_latest(registry).decode()
    assert insert_queries(exposition) == {"m.trades": 2, "m.quotes": 1}


def test_idle_names_the_tables_feeding_each_materialized_views_target() -> None:
    from bench.scenarios.idle import views_feeding

    queries = [
        "CREATE MATERIALIZED VIEW m.lt TO m.symbol_latest (`s` String) AS SELECT s FROM m.trades",
        "CREATE MATERIALIZED VIEW m.lq TO m.symbol_latest (`s` String) AS SELECT s FROM m.quotes",
        "CREATE MATERIALIZED VIEW m.c1s TO `m`.`candles_1s_state` AS SELECT s FROM `m`.`trades`",
    ]
    assert views_feeding(queries) == {
        "m.symbol_latest": ["m.quotes", "m.trades"],
        "m.candles_1s_state": ["m.trades"],
    }


def test_idle_judges_queries_against_the_goal_and_shows_view_parts_beside_them() -> None:
    from bench.scenarios.idle import INSERTS_PER_TABLE, ServerCounters, _server_figures

    first = ServerCounters({"m.trades": 0, "m.symbol_latest": 0, "o.logs": 0}, {}, {"m.trades": 0})
    last = ServerCounters(
        {"m.trades": 10, "m.symbol_latest": 20, "o.logs": 5}, {}, {"m.trades": 10}
    )
    shown = {
        f.name: f
        for f in _server_figures(first, last, 10.0, {"m.symbol_latest": ["m.quotes", "m.trades"]})
    }
    assert shown["INSERT queries/s into m.trades"].value == pytest.approx(1.0)
    assert shown["INSERT queries/s into m.trades"].goal is INSERTS_PER_TABLE
    latest = shown["parts/s written into m.symbol_latest"]
    assert latest.value == pytest.approx(2.0)
    assert latest.goal is None
    assert "m.quotes, m.trades" in latest.note
    assert shown["parts/s written into m.trades"].goal is None
    assert shown["parts/s written into o.logs"].goal is INSERTS_PER_TABLE
