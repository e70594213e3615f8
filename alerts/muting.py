"""One answer to "is this alert muted right now, and why": config silences, maintenance windows,
and silences added from the command line (re-read from their file when it changes)."""

from __future__ import annotations

from loguru import logger

from alerts.errors import RecoverableAlertError
from alerts.silence_store import SilenceStore
from alerts.silences import Silence
from alerts.windows import MaintenanceWindow


class Muting:
    def __init__(
        self,
        silences: list[Silence],
        windows: list[MaintenanceWindow],
        store: SilenceStore | None = None,
        maintenance: SilenceStore | None = None,
    ) -> None:
        self._silences, self._windows, self._store = silences, windows, store
        self._maintenance = maintenance  # one-off windows opened through the status API

    def reason(self, key: str, now: float) -> str | None:
        """Why ``key`` is muted at ``now`` (a short text for logs and records), or None."""
        for silence in self._silences + self._stored(self._store):
            if silence.active(key, now):
                label = f"silence {silence.id}" if silence.id else "configured silence"
                return f"{label} ({silence.matcher})"
        for window in self._windows:
            if window.active(key, now):
                return f"maintenance window ({window.matcher})"
        for opened in self._stored(self._maintenance):
            if opened.active(key, now):
                return f"maintenance window {opened.id} ({opened.matcher})"
        return None

    @staticmethod
    def _stored(store: SilenceStore | None) -> list[Silence]:
        if store is None:
            return []
        try:
            return store.load()
        except RecoverableAlertError as exc:
            logger.warning("ignoring CLI silences: {}", exc)
            return []
