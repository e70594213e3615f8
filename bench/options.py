"""What one benchmark run does: sizes, rates, time budgets, where results go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class BenchOptions:
    """Options of one run; the defaults are the figures the README reports.

    ``kafka_bootstrap`` / ``clickhouse_url`` point the run at services that already run (the
    test harness's, for the smoke test); empty means start a private broker / server. The
    detection scenario always runs its own SMTP server. ``profile`` records the load and
    ingest workers with py-spy into ``results_dir``.
    """

    trades: int = 2_000_000
    naive_trades: int = 2_000
    rates: tuple[int, ...] = (1_000, 10_000, 50_000)
    latency_window_s: float = 12.0
    latency_warmup_s: float = 3.0
    latency_poll_ms: float = 0.0  # the visibility watcher's period, a cross-check (0: off)
    ingest_window_s: float = 15.0
    idle_warmup_s: float = 60.0  # steady state: past the servers' first minute (JIT, new files)
    idle_window_s: float = 30.0
    ingest_compression: str = ""  # empty: the ingest worker's default (ingest.compression)
    detection_rate: int = 1_000
    detection_settle_s: float = 20.0
    scenario_timeout_s: float = 420.0
    seed: int = 7
    symbols: int = 20
    partitions: int = 6
    only: tuple[str, ...] = ()
    results_dir: Path = RESULTS_DIR
    write_results: bool = True
    kafka_bootstrap: str = ""
    clickhouse_url: str = ""
    keep_state: bool = False
    profile: bool = False
