"""The run's report: a rich table on the terminal and a JSON file in ``bench/results/``."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.figures import ScenarioOutcome
from bench.options import BenchOptions


def previous_figures(results_dir: Path) -> dict[tuple[str, str], str]:
    """The figures of the last run written to ``results_dir`` (``latest.json``) as the table
    showed them, by (scenario, figure); empty when there is none or it cannot be read."""
    try:
        data = json.loads((results_dir / "latest.json").read_text(encoding="utf-8"))
        return {(f["scenario"], f["name"]): str(f["shown"]) for f in data["figures"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def table(
    outcomes: list[ScenarioOutcome],
    machine: dict[str, Any],
    previous: dict[tuple[str, str], str] | None = None,
) -> Table:
    """One row per figure, plus one per scenario that ended without figures; ``previous``
    (see :func:`previous_figures`) fills a column beside the new values, so a regression shows."""
    previous = previous or {}
    caption = (
        f"{machine.get('cpu_model')} · {machine.get('logical_cores')} cores · "
        f"{machine.get('memory_gb')} GB · ClickHouse {machine.get('clickhouse')} · "
        f"Kafka {machine.get('kafka')} · librdkafka {machine.get('librdkafka')} · "
        f"Python {machine.get('python')}"
    )
    out = Table(title="tickwatch benchmarks", caption=caption, show_lines=False)
    for column in ("scenario", "figure", "value", "previous", "goal", "verdict"):
        out.add_column(column, overflow="fold")
    for outcome in outcomes:
        if outcome.status != "ok" and not outcome.figures:
            out.add_row(outcome.name, outcome.status, escape(outcome.error[:300]), "", "", "")
        for figure in outcome.figures:
            goal = figure.goal.text if figure.goal else ""
            verdict = figure.verdict()
            style = "green" if verdict == "met" else "red" if verdict else ""
            note = f" ({figure.note})" if figure.note and figure.value is not None else ""
            before = escape(previous.get((figure.scenario, figure.name), ""))
            out.add_row(
                figure.scenario, escape(figure.name), escape(figure.shown() + note), before, goal,
                f"[{style}]{verdict}[/{style}]" if style else verdict,
            )  # fmt: skip
    return out


def print_table(
    outcomes: list[ScenarioOutcome],
    machine: dict[str, Any],
    previous: dict[tuple[str, str], str] | None = None,
) -> None:
    """Print the table to stdout (wide enough for the figures, whatever the terminal says)."""
    Console(width=180).print(table(outcomes, machine, previous))


def document(
    started: datetime,
    options: BenchOptions,
    machine: dict[str, Any],
    outcomes: list[ScenarioOutcome],
) -> dict[str, Any]:
    """The results as JSON data: when, with what options, on what machine, what came out."""
    opts = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}
    return {
        "started_at": started.isoformat(),
        "options": opts,
        "machine": machine,
        "scenarios": {o.name: o.as_json() for o in outcomes},
        "figures": [f.as_json() for o in outcomes for f in o.figures],
    }


def write(results_dir: Path, started: datetime, data: dict[str, Any]) -> Path:
    """Write ``<UTC timestamp>.json`` and ``latest.json``; returns the timestamped file."""
    results_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    path = results_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(text, encoding="utf-8")
    (results_dir / "latest.json").write_text(text, encoding="utf-8")
    return path


def print_profiles(outcomes: list[ScenarioOutcome]) -> None:
    """Where profiled workers' main threads spent their time (wall clock, waits included)."""
    console = Console(width=160)
    for outcome in outcomes:
        for figure in outcome.figures:
            if not figure.extra.get("profile_samples"):
                continue
            console.print(f"\n[bold]{figure.scenario} worker profile[/bold] "
                          f"({figure.extra['profile_samples']} main-thread samples, "
                          f"{escape(str(figure.extra.get('profile')))})")  # fmt: skip
            for title, key in (("inclusive", "profile_inclusive"), ("own", "profile_own")):
                console.print(f"  [italic]{title}[/italic]")
                for frame, share in figure.extra[key]:
                    console.print(f"  {share:6.1%}  {escape(frame)}")
