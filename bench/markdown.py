"""``python -m bench.markdown [results.json]``: a results file as a Markdown table (README)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.options import RESULTS_DIR


def table(data: dict[str, Any]) -> str:
    """Scenario | figure | value | goal | verdict, one line per figure, machine underneath."""
    lines = ["| scenario | figure | value | goal | verdict |", "| --- | --- | --- | --- | --- |"]
    for figure in data["figures"]:
        lines.append(
            f"| {figure['scenario']} | {figure['name']} | {_value(figure)} | "
            f"{figure.get('goal') or ''} | {figure.get('verdict') or ''} |"
        )
    for name, scenario in data["scenarios"].items():
        if scenario["status"] in ("failed", "timeout"):
            lines.append(f"| {name} | {scenario['status']} | {scenario['error']} | | |")
    m = data["machine"]
    lines.append("")
    lines.append(
        f"Machine: {m['cpu_model']}, {m['logical_cores']} cores, {m['memory_gb']} GB; "
        f"Python {m['python']}, ClickHouse {m['clickhouse']} (chdb-core {m['chdb_core']}), "
        f"Kafka {m['kafka']}, librdkafka {m['librdkafka']}; run started {data['started_at']}."
    )
    return "\n".join(lines)


def _value(figure: dict[str, Any]) -> str:
    note = figure.get("note")
    shown = str(figure.get("shown") or figure["value"])
    return f"{shown} ({note})" if note and figure["value"] is not None else shown


def main(argv: list[str] | None = None) -> int:
    """Print the table of the given results file (default: ``bench/results/latest.json``)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else RESULTS_DIR / "latest.json"
    print(table(json.loads(path.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
