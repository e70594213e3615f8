"""The manifest (``ops.archive_manifest``) and the action log (``ops.archive_events``).

A piece's state is its newest manifest row (``FINAL``): ``exported`` after the object was
written, ``verified`` after it was read back and matched, ``mismatch`` when it did not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from clickhouse_connect.driver.client import Client

Status = Literal["exported", "verified", "mismatch"]
Action = Literal["export", "verify", "mismatch", "drop", "restore"]
_COLUMNS = [
    "table", "day", "part", "object_key", "rows", "bytes", "min_time", "max_time", "checksum",
    "status", "detail", "updated_at",
]  # fmt: skip


@dataclass(frozen=True)
class DayStats:
    """Rows, time range and order-independent checksum of one table's day (hot or archived)."""

    rows: int
    min_time: datetime
    max_time: datetime
    checksum: int


@dataclass(frozen=True)
class Piece:
    """One manifest row."""

    table: str
    day: date
    object_key: str
    stats: DayStats
    bytes: int
    status: Status
    detail: str = ""
    part: int = 0

    def matches(self, stats: DayStats) -> bool:
        return (self.stats.rows, self.stats.checksum) == (stats.rows, stats.checksum)


class Manifest:
    """Reads and writes the two ops tables of one ops database."""

    def __init__(self, client: Client, ops_database: str) -> None:
        self._client, self._ops = client, ops_database

    def piece(self, table: str, day: date) -> Piece | None:
        """The newest state of ``table``'s piece for ``day``, or None if never exported."""
        rows = self._client.query(
            f"SELECT {', '.join(_COLUMNS)} FROM {self._ops}.archive_manifest FINAL "
            "WHERE table = {table:String} AND day = {day:Date} AND part = 0",
            parameters={"table": table, "day": day},
        ).result_rows
        return _piece(rows[0]) if rows else None

    def pieces(self, table: str, status: Status | None = None) -> list[Piece]:
        """Every piece of ``table`` (optionally in one ``status``), by day."""
        where = "table = {table:String}" + (" AND status = {status:String}" if status else "")
        rows = self._client.query(
            f"SELECT {', '.join(_COLUMNS)} FROM {self._ops}.archive_manifest FINAL "
            f"WHERE {where} ORDER BY day",
            parameters={"table": table, "status": status or ""},
        ).result_rows
        return [_piece(r) for r in rows]

    def record(self, piece: Piece, now: datetime) -> None:
        """Write ``piece`` as the newest state of its (table, day, part)."""
        s = piece.stats
        row: list[Any] = [
            piece.table, piece.day, piece.part, piece.object_key, s.rows, piece.bytes,
            s.min_time, s.max_time, s.checksum, piece.status, piece.detail, now,
        ]  # fmt: skip
        self._client.insert(f"{self._ops}.archive_manifest", [row], column_names=_COLUMNS)

    def event(
        self, table: str, day: date, action: Action, rows: int, *, now: datetime, detail: str = ""
    ) -> None:
        """Append one line to the action log."""
        self._client.insert(
            f"{self._ops}.archive_events",
            [[now, table, day, action, rows, detail]],
            column_names=["time", "table", "day", "action", "rows", "detail"],
        )

    def count_events(self, table: str, day: date, action: Action) -> int:
        """How many ``action`` events ``table``'s ``day`` has had."""
        return int(
            self._client.query(
                f"SELECT count() FROM {self._ops}.archive_events WHERE table = {{table:String}} "
                "AND day = {day:Date} AND action = {action:String}",
                parameters={"table": table, "day": day, "action": action},
            ).result_rows[0][0]
        )

    def last_event_time(self, table: str, day: date, action: Action) -> datetime | None:
        """When ``table``'s ``day`` last had ``action``, or None."""
        rows = self._client.query(
            f"SELECT max(time), count() FROM {self._ops}.archive_events "
            "WHERE table = {table:String} AND day = {day:Date} AND action = {action:String}",
            parameters={"table": table, "day": day, "action": action},
        ).result_rows
        return rows[0][0] if rows and rows[0][1] else None


def _piece(row: Any) -> Piece:
    (table, day, part, key, rows, size, lo, hi, checksum, status, detail, _) = row
    stats = DayStats(int(rows), _utc(lo), _utc(hi), int(checksum))
    return Piece(table, day, key, stats, int(size), status, detail, int(part))


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
