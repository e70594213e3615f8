"""Finding and calling a running detector's JSON API (``/api/v1``), for the command line.

A detector serving its status page writes ``<state_dir>/status-server.json`` (``url``, ``pid``)
and removes it when it stops; :func:`discover` reads it and checks the process is alive.
:class:`StatusClient` is a small httpx client; every failure is a :class:`StatusApiError` whose
message says what the server answered.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

FILE_NAME = "status-server.json"
TIMEOUT_S = 3.0


class StatusApiError(Exception):
    """The API refused a request or could not be reached; ``status`` is the HTTP code or 0."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def discover(state_dir: Path) -> str | None:
    """The URL of the status server of a detector running with ``state_dir``, or None."""
    try:
        record = json.loads((state_dir / FILE_NAME).read_text(encoding="utf-8"))
        pid, url = int(record["pid"]), str(record["url"])
        os.kill(pid, 0)  # raises when there is no such process
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url


class StatusClient:
    """Calls of the detector's API; ``token`` is needed for writes only."""

    def __init__(self, url: str, token: str = "", timeout_s: float = TIMEOUT_S) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout_s)

    def get(self, path: str, **params: Any) -> Any:
        """``GET /api/v1/<path>`` → the decoded JSON. Raises StatusApiError."""
        return self._call("GET", path, params=params or None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, json=body)

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, f"/api/v1/{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise StatusApiError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return response.json()
        raise StatusApiError(_explain(response), response.status_code)


def _explain(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return "; ".join(f"{e.get('field')}: {e.get('reason')}" for e in errors)
    detail = body.get("detail") if isinstance(body, dict) else body
    return f"HTTP {response.status_code}: {detail}"
