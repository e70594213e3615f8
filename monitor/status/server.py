"""Serving the status application from the detector process: uvicorn in one daemon thread.

The socket is bound by :func:`serve` in the caller's thread, so a taken port fails the start-up
with an ``OSError`` naming it (port 0 = an ephemeral port, read back from ``.url``). While it
runs, ``<state_dir>/status-server.json`` says where (``url``, ``pid``): ``tickwatch silence`` and
``tickwatch up`` find a running detector there. Signals stay with the detector's main thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

import uvicorn

from tickwatch.status_api import FILE_NAME


class StatusServer:
    """A running status server; :meth:`close` stops it and removes the discovery file."""

    def __init__(self, app: Any, sock: socket.socket, state_dir: Path | None) -> None:
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self._sock = sock
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="status-http", daemon=True
        )
        self._file = state_dir / FILE_NAME if state_dir is not None else None

    def start(self) -> StatusServer:
        self._thread.start()
        if self._file is not None:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            self._file.write_text(json.dumps({"url": self.url, "pid": os.getpid()}))
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop serving (waits up to ``timeout``), close the socket, remove the file."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()
        if self._file is not None:
            with contextlib.suppress(FileNotFoundError):
                self._file.unlink()


def serve(app: Any, host: str, port: int, state_dir: Path | None = None) -> StatusServer:
    """Bind ``host:port`` and serve ``app``; raises OSError when the port cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OSError(f"status server cannot listen on {host}:{port}: {exc}") from exc
    return StatusServer(app, sock, state_dir).start()
