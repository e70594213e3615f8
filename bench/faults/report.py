"""The matrix on the terminal (one rich table row per fault) and as JSON in
``bench/results/faults/`` (``<UTC timestamp>.json`` and ``latest.json``), like the benchmarks."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench import report as bench_report
from bench.faults.run import FaultOutcome

VERDICT_MAX = 160  # the JSON has every finding in full
COLUMNS = ("fault", "ticks produced", "rows in CH", "dup", "lost", "dead letters (reasons)",
           "bad → DLQ", "emails once/expected", "detect s", "verdict")  # fmt: skip


def reasons(outcome: FaultOutcome, top: int = 4) -> str:
    shown = ", ".join(f"{r} {n}" for r, n in list(outcome.reasons.items())[:top])
    more = len(outcome.reasons) - top
    tail = f", +{more} reasons" if more > 0 else ""
    return f"{outcome.dead_letters}" + (f" ({shown}{tail})" if shown else "")


def row(o: FaultOutcome) -> tuple[str, ...]:
    """The cells of one fault (plain text; the verdict says what broke)."""
    if o.status == "error":
        return (o.name, "", "", "", "", "", "", "", "", f"error: {o.error[:200]}")
    bad = f"{o.bad_inputs_dead_lettered}/{o.bad_inputs}" if o.bad_inputs else "–"
    mail = f"{o.emails_once}/{o.emails_expected}" if o.emails_expected else "–"
    extra = [n for n in o.email_notes if n.startswith("extra")]
    if extra:
        mail += f" (+{len(extra)} unexpected)"
    detect = f"{o.detect_s:.1f}" if o.detect_s is not None else "–"
    lost = f"{o.lost} (+{o.deleted_unread} deleted unread)" if o.deleted_unread else str(o.lost)
    verdict = "ok" if o.status == "ok" else "FAILED: " + "; ".join(o.findings())
    if len(verdict) > VERDICT_MAX:
        verdict = verdict[: VERDICT_MAX - 1] + "…"
    return (o.name, str(o.produced), str(o.rows), str(o.duplicates), lost, reasons(o),
            bad, mail, detect, verdict)  # fmt: skip


def table(outcomes: list[FaultOutcome], machine: dict[str, Any]) -> Table:
    caption = (
        f"{machine.get('cpu_model')} · {machine.get('logical_cores')} cores · "
        f"{machine.get('memory_gb')} GB · ClickHouse {machine.get('clickhouse')} · "
        f"Kafka {machine.get('kafka')} · seed {machine.get('seed')}"
    )
    out = Table(title="tickwatch fault matrix", caption=caption)
    for column in COLUMNS:
        out.add_column(column, overflow="fold")
    for o in outcomes:
        cells = list(map(escape, row(o)))
        style = "green" if o.status == "ok" else "red"
        cells[-1] = f"[{style}]{cells[-1]}[/{style}]"
        out.add_row(*cells)
    return out


def print_table(outcomes: list[FaultOutcome], machine: dict[str, Any]) -> None:
    Console(width=200).print(table(outcomes, machine))


def markdown(outcomes: list[FaultOutcome]) -> str:
    """The same table as Markdown (for the README's Reliability section)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for o in outcomes:
        lines.append("| " + " | ".join(c.replace("|", "/") for c in row(o)) + " |")
    return "\n".join(lines)


def document(started: datetime, options: dict[str, Any], machine: dict[str, Any],
             outcomes: list[FaultOutcome]) -> dict[str, Any]:  # fmt: skip
    return {
        "started_at": started.isoformat(),
        "options": options,
        "machine": machine,
        "faults": {o.name: o.as_json() for o in outcomes},
        "survived": sum(o.status == "ok" for o in outcomes),
        "total": len(outcomes),
    }


def write(results_dir: Path, started: datetime, data: dict[str, Any]) -> Path:
    """``<timestamp>.json`` and ``latest.json`` in ``results_dir`` (the benchmarks' writer)."""
    return bench_report.write(results_dir, started, data)
