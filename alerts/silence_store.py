"""Silences added from the command line, kept in ``<state_dir>/silences.json``.

The file is rewritten atomically (temp file + rename) so the detector, which re-reads it when its
modification time changes, never sees half a file. Expired silences are pruned on every write.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import asdict
from pathlib import Path

from alerts.errors import SilencesUnreadable
from alerts.silences import Silence

FILE_NAME = "silences.json"


class SilenceStore:
    """Read, add and remove CLI silences in one JSON file."""

    def __init__(self, state_dir: Path, file_name: str = FILE_NAME) -> None:
        self.path = state_dir / file_name
        self._cache: tuple[float, list[Silence]] | None = None

    def load(self) -> list[Silence]:
        """All stored silences (expired ones included until the next write); [] if no file."""
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            return []
        if self._cache is not None and self._cache[0] == mtime:
            return self._cache[1]
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            silences = [Silence(**item) for item in raw.get("silences", [])]
        except (OSError, ValueError, TypeError) as exc:
            raise SilencesUnreadable(f"{self.path}: unreadable silences file ({exc})") from exc
        self._cache = (mtime, silences)
        return silences

    def add(self, silence: Silence, now: float) -> Silence:
        """Store ``silence`` with a fresh id; return it."""
        stored = Silence(
            silence.matcher,
            silence.starts,
            silence.ends,
            silence.comment,
            secrets.token_hex(4),
            silence.created_by,
        )
        self._write([s for s in self.load() if s.ends > now] + [stored])
        return stored

    def remove(self, silence_id: str, now: float) -> bool:
        """Delete the silence with ``silence_id``; False if there was none."""
        current = self.load()
        kept = [s for s in current if s.id != silence_id and s.ends > now]
        self._write(kept)
        return any(s.id == silence_id for s in current)

    def _write(self, silences: list[Silence]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"silences": [asdict(s) for s in silences]}, indent=2)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".silences.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
        Path(tmp).replace(self.path)
        self._cache = None
