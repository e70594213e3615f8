"""Reading replay files row by row: CSV, JSON Lines and Parquet, chosen by file extension.

Each reader yields ``(where, row, default_type)``: ``where`` names the file and the line (CSV,
JSONL) or row (Parquet) for error messages; ``default_type`` is the record type inferred from
the columns when rows carry no ``type`` field.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from pipeline.codec import RecordType
from pipeline.sources.replay_rows import ReplayError, infer_type

Row = tuple[str, dict[str, Any], RecordType | None]
SUFFIXES = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def replay_files(path: Path) -> list[Path]:
    """``path`` itself, or the replayable files of directory ``path`` in name order."""
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not found:
            raise ReplayError(f"{path}: no .csv, .jsonl or .parquet files in this directory")
        return found
    if not path.is_file():
        raise ReplayError(f"{path}: no such file")
    if path.suffix.lower() not in SUFFIXES:
        raise ReplayError(f"{path}: unknown format; expected .csv, .jsonl or .parquet")
    return [path]


def read_rows(path: Path) -> Iterator[Row]:
    """The rows of one file, in file order."""
    readers = {"csv": _csv, "jsonl": _jsonl, "parquet": _parquet}
    return readers[SUFFIXES[path.suffix.lower()]](path)


def _csv(path: Path) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        default = _infer(path, reader.fieldnames or [])
        for row in reader:
            where = f"{path} line {reader.line_num}"
            if None in row:
                raise ReplayError(f"{where}: more cells than the {len(row) - 1} columns")
            yield where, row, default


def _jsonl(path: Path) -> Iterator[Row]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path} line {number}"
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ReplayError(f"{where}: not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise ReplayError(f"{where}: expected a JSON object")
            yield where, row, _infer(path, row.keys(), where)


def _parquet(path: Path) -> Iterator[Row]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several exception types for an unreadable file
        raise ReplayError(f"{path}: not a readable Parquet file ({exc})") from None
    default = _infer(path, parquet.schema_arrow.names)
    number = 0
    for batch in parquet.iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            number += 1
            yield f"{path} row {number}", row, default


def _infer(path: Path, columns: Any, where: str = "") -> RecordType | None:
    try:
        return infer_type(set(columns))
    except ReplayError as exc:
        raise ReplayError(f"{where or path}: {exc}") from None
