"""Runs the selected scenarios one after the other, each within its own time budget."""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence

from rich.console import Console

from bench.context import BenchContext
from bench.deadline import Deadline, alarm
from bench.errors import ScenarioTimeout
from bench.figures import ScenarioOutcome, Status
from bench.scenarios import Scenario

console = Console(stderr=True)


def run_all(ctx: BenchContext, scenarios: Sequence[Scenario]) -> list[ScenarioOutcome]:
    """Every scenario's outcome, in order. A failing scenario does not stop the next one."""
    return [run_one(ctx, scenario) for scenario in scenarios]


def run_one(ctx: BenchContext, scenario: Scenario) -> ScenarioOutcome:
    """Run ``scenario`` under a :class:`Deadline` and an alarm; never raises for its failures
    (KeyboardInterrupt still propagates)."""
    budget = ctx.options.scenario_timeout_s
    console.print(f"[bold]▶ {scenario.name}[/bold]: {scenario.title} (budget {budget:.0f} s)")
    started = time.monotonic()
    try:
        with alarm(budget):
            figures = scenario.run(ctx, Deadline(budget))
    except ScenarioTimeout as exc:
        return _ended(scenario.name, "timeout", started, str(exc))
    except Exception as exc:  # reported in the table and the JSON; the run goes on
        trace = traceback.format_exc(limit=4)
        console.print(f"[red]{scenario.name} failed:[/red] {trace}")
        return _ended(scenario.name, "failed", started, f"{type(exc).__name__}: {exc}")
    seconds = time.monotonic() - started
    measured = any(f.value is not None for f in figures)
    status: Status = "ok" if measured else "not measured"
    console.print(f"  {scenario.name}: {status} in {seconds:.1f} s")
    return ScenarioOutcome(scenario.name, status, seconds, figures)


def _ended(name: str, status: Status, started: float, error: str) -> ScenarioOutcome:
    seconds = time.monotonic() - started
    console.print(f"[red]  {name}: {status} after {seconds:.1f} s: {error}[/red]")
    return ScenarioOutcome(name, status, seconds, error=error)
