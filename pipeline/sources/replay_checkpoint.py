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
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from pipeline.sources.checkpoint import CheckpointError, read_json, write_atomic

VERSION = 1


@dataclass(frozen=True, slots=True)
class ReplayPosition:
    """``records`` records of file number ``file_index`` were handed out (and acknowledged)."""

    file_index: int = 0
    records: int = 0
    finished: bool = False


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

    def __init__(self, path: Path, replay_path: Path, files: list[Path]) -> None:
        self.path = path
        self._replay_path = replay_path
        self._files = fingerprint(files)

    def load(self) -> ReplayPosition:
        """The saved position; the start when there is none.

        Raises :class:`CheckpointError` when the files differ from the ones checkpointed.
        """
        saved = read_json(self.path)
        if saved is None:
            return ReplayPosition()
        if saved.get("version") != VERSION or saved.get("files") != self._files:
            raise CheckpointError(
                f"checkpoint {self.path}: the replay files changed since it was written "
                f"(or it is from another version); delete it or set "
                f"TICKWATCH_INGEST_REPLAY_RESUME=false to replay {self._replay_path} from the start"
            )
        try:
            return ReplayPosition(
                int(saved["file_index"]), int(saved["records"]), bool(saved["finished"])
            )
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(f"checkpoint {self.path}: malformed; delete it") from None

    def save(self, position: ReplayPosition) -> None:
        """Write ``position`` atomically."""
        body = {
            "version": VERSION,
            "replay_path": str(self._replay_path),
            "files": self._files,
            "file_index": position.file_index,
            "records": position.records,
            "finished": position.finished,
        }
        write_atomic(self.path, orjson.dumps(body, option=orjson.OPT_INDENT_2))
