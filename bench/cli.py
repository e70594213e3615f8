"""``python -m bench``: start a private stack, run the scenarios, print and save the figures.

Order: parse options → read settings once → temp state dir → start Kafka + ClickHouse (bounded
by the stack's ready timeout) → describe the machine → run each scenario within its budget →
derive ratios → stop the services and remove the state dir (kept when a scenario failed, for
its logs) → print the table → write ``bench/results/<timestamp>.json`` and ``latest.json``.
Exit code 0 when no scenario failed or timed out, 1 otherwise, 2 for bad options.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from rich.console import Console

from bench import machine, ratios, report, runner, scenarios
from bench.context import BenchContext
from bench.figures import Figure, ScenarioOutcome
from bench.options import RESULTS_DIR, BenchOptions
from bench.prefill import PrefilledTopic
from bench.services import BenchServices
from bench.warehouse import Warehouse
from tickwatch.settings import ConfigError, StackSettings, load_settings

err = Console(stderr=True)


def parser() -> argparse.ArgumentParser:
    """The command line (every option has a default that reproduces the README's figures)."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Start a private Kafka + ClickHouse, run the benchmark scenarios, "
        "print the figures and save them in bench/results/.",
    )
    d = BenchOptions()
    p.add_argument("--trades", type=int, default=d.trades, help="pre-filled trades (load, "
                   "kafka-engine, telemetry)")  # fmt: skip
    p.add_argument("--naive-trades", type=int, default=d.naive_trades)
    p.add_argument("--rates", default=",".join(map(str, d.rates)), help="latency rates, ticks/s")
    p.add_argument("--latency-window", type=float, default=d.latency_window_s, help="seconds")
    p.add_argument("--latency-poll-ms", type=float, default=d.latency_poll_ms,
                   help="latency cross-check: poll for visible rows every MS (default 0: off; "
                   "costs the server 15-30 %% of a core on 2 cores, bench/README)")  # fmt: skip
    p.add_argument("--ingest-window", type=float, default=d.ingest_window_s, help="seconds")
    p.add_argument("--idle-warmup", type=float, default=d.idle_warmup_s,
                   help="seconds the idle stack runs before its window")  # fmt: skip
    p.add_argument("--idle-window", type=float, default=d.idle_window_s, help="seconds")
    p.add_argument("--ingest-compression", default=d.ingest_compression,
                   choices=["", "none", "lz4", "zstd", "snappy", "gzip"],
                   help="the ingest worker's compression (default: its own)")  # fmt: skip
    p.add_argument("--detection-settle", type=float, default=d.detection_settle_s)
    p.add_argument("--only", action="append", default=[], help=f"{', '.join(scenarios.NAMES)}"
                   " (repeat or comma-separate)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=d.scenario_timeout_s, help="per scenario, s")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--kafka-bootstrap", default="", help="use a running broker")
    p.add_argument("--clickhouse-url", default="", help="use a running ClickHouse")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--no-write", action="store_true", help="print only, write no JSON")
    p.add_argument("--keep-state", action="store_true", help="keep the temp state dir (logs)")
    p.add_argument(
        "--profile", action="store_true", help="py-spy the load and ingest workers (root)"
    )
    return p


def options_from(argv: list[str] | None) -> BenchOptions:
    """Parsed, validated options; exits with code 2 naming a bad value."""
    args = parser().parse_args(argv)
    only = tuple(n.strip() for arg in args.only for n in arg.split(",") if n.strip())
    try:
        scenarios.selected(only)
        rates = tuple(int(r) for r in args.rates.split(",") if r.strip())
    except ValueError as exc:
        parser().error(str(exc))
    if args.latency_poll_ms < 0:
        parser().error("--latency-poll-ms must be >= 0")
    if args.idle_warmup < 0 or args.idle_window <= 0:
        parser().error("--idle-warmup must be >= 0 and --idle-window positive")
    if args.trades < 1 or args.naive_trades < 1 or not rates:
        parser().error("--trades, --naive-trades and --rates must be positive")
    return BenchOptions(
        trades=args.trades, naive_trades=args.naive_trades, rates=rates,
        latency_window_s=args.latency_window,
        latency_poll_ms=args.latency_poll_ms, ingest_window_s=args.ingest_window,
        idle_warmup_s=args.idle_warmup, idle_window_s=args.idle_window,
        ingest_compression=args.ingest_compression,
        detection_settle_s=args.detection_settle, scenario_timeout_s=args.timeout,
        seed=args.seed, only=only, results_dir=args.results_dir,
        write_results=not args.no_write, kafka_bootstrap=args.kafka_bootstrap,
        clickhouse_url=args.clickhouse_url, keep_state=args.keep_state, profile=args.profile,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; see the module docstring for the order and the exit codes."""
    options = options_from(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        err.print(f"[red]bench: {exc}[/red]")
        return 2
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _main(options, settings.stack)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(options: BenchOptions, stack: StackSettings) -> int:
    started = datetime.now(UTC)
    state_dir = Path(tempfile.mkdtemp(prefix="tickwatch-bench-"))
    services = BenchServices(
        state_dir, stack,
        kafka_bootstrap=options.kafka_bootstrap, clickhouse_url=options.clickhouse_url,
    )  # fmt: skip
    outcomes: list[ScenarioOutcome] = []
    described: dict[str, object] = {}
    keep = options.keep_state
    try:
        outcomes, described = _run(options, services, started)
    except BaseException:
        keep = True  # the logs say what went wrong
        raise
    finally:
        services.stop()
        _clean_up(state_dir, keep or any(o.status in _BAD for o in outcomes))
    report.print_table(outcomes, described, report.previous_figures(options.results_dir))
    report.print_profiles(outcomes)
    if options.write_results:
        path = report.write(
            options.results_dir, started, report.document(started, options, described, outcomes)
        )
        err.print(f"results written to {path} and {path.parent / 'latest.json'}")
    return 1 if any(o.status in _BAD for o in outcomes) else 0


_BAD = ("failed", "timeout")


def _run(
    options: BenchOptions, services: BenchServices, started: datetime
) -> tuple[list[ScenarioOutcome], dict[str, object]]:
    err.print(f"starting Kafka and ClickHouse in {services.state_dir} …")
    services.start()
    warehouse = Warehouse(services.clickhouse_url, options.partitions)
    try:
        described = machine.describe(warehouse.version())
        run_id = uuid.uuid4().hex[:8]
        started_us = int(started.timestamp() * 1e6)
        ctx = BenchContext(options, services, warehouse, run_id, started_us)
        began = time.monotonic()
        outcomes = runner.run_all(ctx, scenarios.selected(options.only))
        if ctx.prefill_result is not None:
            outcomes.insert(0, _prefill_outcome(ctx.prefill_result))
        derived = ratios.derive(outcomes)
        if derived is not None:
            outcomes.append(derived)
        err.print(f"scenarios done in {time.monotonic() - began:.0f} s")
    finally:
        warehouse.close()
    return outcomes, described


def _prefill_outcome(done: PrefilledTopic) -> ScenarioOutcome:
    """The pre-fill as a row of its own: one Python producer, seeded tape, lz4."""
    figure = Figure(
        "prefill", "trades topic pre-fill (one producer)", done.records_per_s, "records/s",
        note=f"{done.records:,} records in {done.seconds:.1f} s",
    )  # fmt: skip
    return ScenarioOutcome("prefill", "ok", done.seconds, [figure])


def _clean_up(state_dir: Path, keep: bool) -> None:
    if keep:
        err.print(f"state (logs, data) kept in {state_dir}")
        return
    shutil.rmtree(state_dir, ignore_errors=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM behaves like Ctrl-C: scenarios' ``finally`` blocks stop what they started."""
    raise KeyboardInterrupt
