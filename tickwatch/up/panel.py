"""Rendering ``tickwatch up``'s status: a rich panel on a terminal, a plain line otherwise."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from tickwatch.up.detector import DetectorView
from tickwatch.up.status import Status

GOOD = {"up", "ok"}
STYLE = {"OK": "green", "WARN": "yellow", "CRIT": "red", "UNKNOWN": "dim"}
CHECKS_SHOWN = 12


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
        f"{_detector_words(status.detector)}{' ' + status.drill if status.drill else ''}"
    )


def _detector_words(view: DetectorView | None) -> str:
    """`` checks=OK:7,CRIT:1 alerts=consumer_lag/g/t:CRIT emails=2`` for the plain line."""
    if view is None or view.error:
        return ""
    counts: dict[str, int] = {}
    for _, state in view.checks:
        counts[state] = counts.get(state, 0) + 1
    checks = ",".join(f"{k}:{v}" for k, v in sorted(counts.items()))
    alerts = ",".join(f"{key}:{severity}" for key, severity, _ in view.alerts) or "none"
    return f" checks={checks or '-'} alerts={alerts} emails={_num(view.emails_sent)}"


def _detector(view: DetectorView | None) -> list[Table | Text]:
    """The checks, the open alerts and the emails sent, as the panel shows them."""
    if view is None or view.error:
        why = view.error if view else "not started"
        return [Text(f"detector: {why}", style="dim")]
    checks = Table("check / target", "state", box=None)
    failing = [c for c in view.checks if c[1] != "OK"]
    passing = len(view.checks) - len(failing)
    for key, state in failing[:CHECKS_SHOWN]:
        checks.add_row(Text(key), Text(state, style=STYLE.get(state, "")))
    checks.add_row(f"{passing} more passing" if failing else f"all {passing} passing",
                   Text("OK", style="green"))  # fmt: skip
    alerts = Table("open alert", "severity", box=None)
    for key, severity, muted in view.alerts:
        label = f"{severity} (muted)" if muted else severity
        alerts.add_row(Text(key), Text(label, style=STYLE.get(severity, "")))
    if not view.alerts:
        alerts.add_row("none", "")
    emails = Table(f"emails sent (24 h): {_num(view.emails_sent)}", box=None)
    for when, subject in view.emails:
        emails.add_row(Text(f"{when}  {subject}"))  # Text: a subject's [brackets] stay text
    return [checks, Text(""), alerts, Text(""), emails]


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
    links = Table.grid(padding=(0, 2))
    for name, url in status.links.items():
        links.add_row(name, url)
    drill = [Text(status.drill, style="bold yellow"), Text("")] if status.drill else []
    footer = Text(
        f"logs: {logs}   `tickwatch incident` stops the load worker for a minute   "
        "Ctrl-C stops everything",
        style="dim",
    )
    body = Group(flow, Text(""), health, Text(""), *drill, *_detector(status.detector), Text(""),
                 links, Text(""), footer)  # fmt: skip
    return Panel(body, title="tickwatch up", border_style="cyan")
