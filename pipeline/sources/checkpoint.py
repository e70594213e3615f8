"""Source checkpoints: what a source has handed over *and Kafka has acknowledged*, on disk.

The ingest worker drives them (:class:`~pipeline.ingest.IngestWorker`): every
``ingest.checkpoint_interval_s`` and once more after the final flush it waits until the producer
has a delivery report for every record enqueued so far, and only if none failed calls the
source's :meth:`CheckpointedSource.checkpoint`. So a checkpoint never covers a record Kafka does
not hold. Files are written whole to a temporary name, fsynced and renamed over the old one
(:func:`write_atomic`): a crash leaves the previous checkpoint or the new one, never half of one.

What this does not cover by itself: a process killed (``kill -9``, power loss) after Kafka
acknowledged records but before the next checkpoint was written hands those records out again
on restart — at most ``checkpoint_interval_s`` worth. Live sources with vendor trade ids close
that window by reading their keys back from Kafka at start
(:mod:`pipeline.sources.live.ledger_recovery`). The replay closes it with Kafka transactions
that commit its position together with the records (as Kafka Connect's exactly-once sources do):
:mod:`pipeline.sources.replay_transactions`, on by default; its file checkpoint
(``ingest.replay_transactions=false``) keeps the window.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson

from pipeline.errors import SourceError
from tickwatch.settings import KafkaSettings


class CheckpointError(SourceError):
    """A checkpoint could not be read or written; names the file."""

    recoverable = False


@runtime_checkable
class CheckpointedSource(Protocol):
    """A source that can record how far it got."""

    def checkpoint(self) -> None:
        """Persist progress: every batch yielded so far is in Kafka. Raises CheckpointError."""
        ...


@runtime_checkable
class RecoverableSource(Protocol):
    """A source that can learn, from Kafka, what it handed out after its last checkpoint."""

    def recover(self, kafka: KafkaSettings, bootstrap: str, window_s: float) -> int:
        """Read back what Kafka holds since the last checkpoint; return how many keys."""
        ...


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: write a temporary file, fsync, rename, fsync the folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        with temporary.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        temporary.replace(path)
        _fsync_dir(path.parent)
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path}: {exc.strerror or exc}") from None


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when there is no such file."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError:
        raise CheckpointError(f"checkpoint {path}: not JSON; delete it to start over") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {path}: not a JSON object; delete it to start over")
    return data


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
