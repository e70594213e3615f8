"""Progress of a run: a rich progress bar on a terminal, one log line per symbol otherwise."""

from __future__ import annotations

from loguru import logger
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn


class BarProgress:
    """A rich bar per symbol: the share of its uncovered time range done, and records produced."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[records]} records"), TimeRemainingColumn(), console=console,
        )  # fmt: skip
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> BarProgress:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def start(self, symbol: str, total_us: int) -> None:
        self._tasks[symbol] = self._progress.add_task(symbol, total=max(total_us, 1), records=0)

    def advance(self, symbol: str, done_us: int, records: int) -> None:
        task = self._tasks[symbol]
        total = self._progress.tasks[self._task_index(task)].fields["records"] + records
        self._progress.update(task, advance=done_us, records=total)

    def _task_index(self, task: TaskID) -> int:
        return [t.id for t in self._progress.tasks].index(task)


class LogProgress:
    """No terminal: a log line when a symbol starts and one per page."""

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def start(self, symbol: str, total_us: int) -> None:
        logger.info("backfill {}: {:.0f} s of history to cover", symbol, total_us / 1e6)

    def advance(self, symbol: str, done_us: int, records: int) -> None:
        logger.info("backfill {}: page committed, {} records", symbol, records)
