"""``python -m bench.faults`` (``make faults``): start a private Kafka + ClickHouse, run the
fault matrix, print one row per fault, save the JSON.

Order: parse options → read settings once → temp state dir → start Kafka + ClickHouse → run
each selected fault in its own lane (each bounded: its schedule, then at most
:data:`~bench.faults.run.SETTLE_S` + :data:`~bench.faults.run.MAIL_S` of settling) → stop the
services (the state dir, with every worker's log, is kept when a fault failed) → print the
table (and ``--markdown``) → write ``bench/results/faults/<timestamp>.json`` and
``latest.json``. Exit code 0 when every fault was survived, 1 otherwise, 2 for bad options.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bench import machine
from bench.faults import catalog, report
from bench.faults.run import Fault, FaultOutcome, execute
from bench.faults.stack import FaultStack
from bench.options import RESULTS_DIR
from tickwatch.settings import ConfigError, load_settings

FAULTS_RESULTS = RESULTS_DIR / "faults"
err = Console(stderr=True)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    p.add_argument(
        "--only",
        action="append",
        default=[],
        help="fault names, comma-separated or repeated: " + ", ".join(catalog.NAMES),
    )
    p.add_argument(
        "--quick", action="store_true", help="the small subset: " + ", ".join(catalog.QUICK)
    )
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--kafka-bootstrap", default="", help="a running broker (no Kafka faults)")
    p.add_argument("--clickhouse-url", default="", help="a running ClickHouse (no CH faults)")
    p.add_argument("--results-dir", type=Path, default=FAULTS_RESULTS)
    p.add_argument("--no-write", action="store_true", help="print only, write no JSON")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    p.add_argument("--keep-state", action="store_true", help="keep the temp state dir (logs)")
    return p  # fmt: skip


def select(only: list[str], quick: bool) -> list[Fault]:
    """The faults to run, in the catalog's order; raises SystemExit(2) naming an unknown one."""
    names = [n.strip() for item in only for n in item.split(",") if n.strip()]
    unknown = sorted(set(names) - set(catalog.NAMES))
    if unknown:
        err.print(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(catalog.NAMES)}")
        raise SystemExit(2)
    chosen = set(names) or set(catalog.QUICK if quick else catalog.NAMES)
    return [f for f in catalog.FAULTS if f.name in chosen]


def fault_seed(seed: int, name: str) -> int:
    """Each fault's own seed: stable for (``--seed``, name), independent of the selection."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % 2**31


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    faults = select(args.only, args.quick)
    try:
        settings = load_settings()
    except ConfigError as exc:
        err.print(str(exc))
        return 2
    started = datetime.now(UTC)
    state_dir = Path(tempfile.mkdtemp(prefix="tickwatch-faults-"))
    stack = FaultStack(state_dir, settings.stack, kafka_bootstrap=args.kafka_bootstrap,
                       clickhouse_url=args.clickhouse_url)  # fmt: skip
    outcomes: list[FaultOutcome] = []
    try:
        stack.start()
        for f in faults:
            if f.breaks and not stack.owns_services:
                continue
            err.print(f"[bold]fault[/bold] {f.name}: {f.what}")
            seed = fault_seed(args.seed, f.name)
            outcome = execute(stack, f, seed, state_dir / "lanes", keep=args.keep_state)
            err.print(f"  -> {report.row(outcome)[-1]} ({outcome.wall_s:.0f} s)")
            outcomes.append(outcome)
        version = _clickhouse_version(stack)
    finally:
        stack.stop()
    failed = [o for o in outcomes if o.status != "ok"]
    if failed or args.keep_state:
        err.print(f"state and worker logs kept in {state_dir}")
    else:
        shutil.rmtree(state_dir, ignore_errors=True)
    described = machine.describe(version) | {"seed": args.seed}
    report.print_table(outcomes, described)
    if args.markdown:
        print(report.markdown(outcomes))
    if not args.no_write:
        options = {"only": [f.name for f in faults], "quick": args.quick, "seed": args.seed}
        path = report.write(args.results_dir, started,
                            report.document(started, options, described, outcomes))  # fmt: skip
        err.print(f"results: {path}")
    return 1 if failed else 0


def _clickhouse_version(stack: FaultStack) -> str:
    import clickhouse_connect

    try:
        client = clickhouse_connect.get_client(
            host="127.0.0.1", port=int(stack.clickhouse_url.rsplit(":", 1)[1])
        )
        version = str(client.server_version)
        client.close()
        return version
    except Exception:  # the version is decoration; a failing server is already in the rows
        return "unknown"
