"""Rendering ``tickwatch up``'s status: a rich panel on a terminal, a plain line otherwise."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tickwatch.up.status import Status

GOOD = {"up", "ok"}


def _num(value: float | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{unit}"


def _latency(status: Status) -> str:
    if status.e2e_mean_s is None:
        return "-"
    p99 = f"{status.e2e_p99_s:g}s" if status.e2e_p99_s is not None else "-"
    return f"mean {status.e2e_mean_s:.3f}s p99<={p99}"


def plain_line(status: Status) -> str:
    """One status line for logs and pipes."""
    health = " ".join(f"{name}={state}" for name, state in status.health.items())
    rows = sum(status.rows.values())
    return (
        f"in={_num(status.ticks_in, '/s')} out={_num(status.ticks_out, '/s')} "
        f"lag={_num(status.lag_offsets)} ({_num(status.lag_seconds, 's', 1)}) "
        f"e2e={_latency(status)} dlq={_num(status.dead_letters)} "
        f"produce_errors={_num(status.produce_errors)} rows={rows:,} {health}"
    )


def panel(status: Status, logs: str) -> Panel:
    """The live panel: throughput, lag, latency, DLQ, per-table rows, component health."""
    flow = Table.grid(padding=(0, 2))
    flow.add_column(style="bold")
    flow.add_column(justify="right")
    flow.add_row("ticks/s in (ingest)", _num(status.ticks_in))
    flow.add_row("ticks/s out (load)", _num(status.ticks_out))
    flow.add_row(
        "consumer lag", f"{_num(status.lag_offsets)} msgs / {_num(status.lag_seconds, 's', 1)}"
    )
    flow.add_row("end-to-end latency", _latency(status))
    flow.add_row("dead letters", _num(status.dead_letters))
    flow.add_row("produce errors", _num(status.produce_errors))
    for table, count in status.rows.items():
        flow.add_row(f"rows in {table}", f"{count:,}")
    health = Table("component", "state", box=None)
    for name, state in status.health.items():
        health.add_row(name, Text(state, style="green" if state in GOOD else "red"))
    footer = Text(f"logs: {logs}   Ctrl-C stops everything", style="dim")
    body = Group(flow, Text(""), health, Text(""), footer)
    return Panel(body, title="tickwatch up", border_style="cyan")
