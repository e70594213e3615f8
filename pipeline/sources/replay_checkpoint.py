"""Where a replay stopped: the file and how many of its records Kafka already holds.

One JSON file per replay path under ``<ingest state dir>/replay/``::

    {"version": 1, "replay_path": "/data/day1",
     "files": [{"path": ..., "size": ..., "mtime_ns": ...}],
     "file_index": 1, "records": 5000, "finished": false}

``files`` fingerprints the replayed files (size and modification time): a checkpoint is only
resumed for the same files, and a changed file stops the source with an error instead of
resuming at a position that no longer means anything. ``finished`` marks a replay whose last
record Kafka acknowledged: running it again hands out nothing and the worker exits 0 (compose
does not restart a worker that exited 0). Delete the file, or set
``ingest.replay_resume=false``, to replay from the start.

With ``ingest.replay_transactions`` (the default) the same body is not written to a file but
committed to Kafka inside the transaction that carries the records it covers
(:mod:`pipeline.sources.replay_transactions`); :func:`position_body` and :func:`read_position`
are shared by both stores, and :class:`PositionStore` is what the replay source needs of either.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from pipeline.sources.checkpoint import CheckpointError, read_json, write_atomic

VERSION = 1


@dataclass(frozen=True, slots=True)
class ReplayPosition:
    """``records`` records of file number ``file_index`` were handed out (and acknowledged)."""

    file_index: int = 0
    records: int = 0
    finished: bool = False


class PositionStore(Protocol):
    """Where a replay's position is kept: a file (:class:`ReplayCheckpoint`) or Kafka.

    ``commits_records``: saving also commits the records handed out so far (Kafka
    transactions), so the source may save on its own before a long pause.
    """

    commits_records: bool

    @property
    def where(self) -> str:
        """Names the store in logs and errors."""
        ...

    def load(self) -> ReplayPosition:
        """The saved position, the start when there is none; raises CheckpointError."""
        ...

    def save(self, position: ReplayPosition) -> None:
        """Persist ``position``; raises CheckpointError."""
        ...


def position_body(
    replay_path: Path, files: list[dict[str, Any]], position: ReplayPosition
) -> bytes:
    """The checkpoint's JSON: the files' fingerprints and the position."""
    body = {
        "version": VERSION,
        "replay_path": str(replay_path),
        "files": files,
        "file_index": position.file_index,
        "records": position.records,
        "finished": position.finished,
    }
    return orjson.dumps(body, option=orjson.OPT_INDENT_2)


def read_position(
    saved: dict[str, Any] | None, files: list[dict[str, Any]], where: str, replay_path: Path
) -> ReplayPosition:
    """The position in a checkpoint body; the start for None.

    Raises :class:`CheckpointError` naming ``where`` when the files differ from the ones
    checkpointed, or the body is malformed.
    """
    if saved is None:
        return ReplayPosition()
    if saved.get("version") != VERSION or saved.get("files") != files:
        raise CheckpointError(
            f"checkpoint {where}: the replay files changed since it was written "
            f"(or it is from another version); delete it or set "
            f"TICKWATCH_INGEST_REPLAY_RESUME=false to replay {replay_path} from the start"
        )
    try:
        return ReplayPosition(
            int(saved["file_index"]), int(saved["records"]), bool(saved["finished"])
        )
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"checkpoint {where}: malformed; delete it") from None


def checkpoint_path(state_dir: Path, replay_path: Path) -> Path:
    """The checkpoint file of ``replay_path`` under ``state_dir``."""
    digest = hashlib.sha256(str(replay_path.resolve()).encode()).hexdigest()[:16]
    return state_dir / "replay" / f"{replay_path.name}-{digest}.json"


def fingerprint(files: list[Path]) -> list[dict[str, Any]]:
    """What identifies the replayed files: resolved path, size, modification time (ns)."""
    prints = []
    for path in files:
        stat = path.stat()
        prints.append(
            {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        )
    return prints


class ReplayCheckpoint:
    """Reads and writes one replay's checkpoint file."""

    commits_records = False  # the worker saves only after Kafka acknowledged everything

    def __init__(self, path: Path, replay_path: Path, files: list[Path]) -> None:
        self.path = path
        self._replay_path = replay_path
        self._files = fingerprint(files)

    @property
    def where(self) -> str:
        """The checkpoint file."""
        return str(self.path)

    def load(self) -> ReplayPosition:
        """The saved position; the start when there is none.

        Raises :class:`CheckpointError` when the files differ from the ones checkpointed.
        """
        return read_position(read_json(self.path), self._files, self.where, self._replay_path)

    def save(self, position: ReplayPosition) -> None:
        """Write ``position`` atomically."""
        write_atomic(self.path, position_body(self._replay_path, self._files, position))
