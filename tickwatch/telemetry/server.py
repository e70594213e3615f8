"""The per-worker HTTP endpoint: ``/metrics`` (Prometheus exposition) and ``/healthz``.

``serve`` binds ``host:port`` (port 0 = an ephemeral port, read it back from ``.port``) and
answers from daemon threads, so a slow scraper never holds up the worker. ``/metrics`` speaks
the classic text format or OpenMetrics, whichever the scraper's ``Accept`` header asks for.
``/healthz`` answers 200 ``ok`` when the worker's ``health`` callback returns True and 503
otherwise (also when the callback raises).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], registry: CollectorRegistry, health: Callable[[], bool]
    ) -> None:
        super().__init__(address, _Handler)
        self.registry = registry
        self.health = health


class MetricsServer:
    """A running endpoint; ``close(timeout)`` stops it and frees the port."""

    def __init__(self, httpd: _Httpd) -> None:
        self._httpd = httpd
        # a short poll interval keeps close() quick; the idle loop costs next to nothing
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="telemetry-http", daemon=True
        )
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` of this endpoint."""
        return f"http://{self.host}:{self.port}"

    def set_health(self, health: Callable[[], bool]) -> None:
        """Answer ``/healthz`` from ``health`` from now on."""
        self._httpd.health = health

    def close(self, timeout: float = 5.0) -> None:
        """Stop serving and close the socket; waits at most ``timeout`` for the loop to end."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout)


def serve(
    registry: CollectorRegistry, host: str, port: int, health: Callable[[], bool]
) -> MetricsServer:
    """Serve ``registry`` on ``host:port``; raises OSError when the port cannot be bound."""
    return MetricsServer(_Httpd((host, port), registry, health))


class _Handler(BaseHTTPRequestHandler):
    server: _Httpd

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._reply(200, content_type, encoder(self.server.registry))
        elif path == "/healthz":
            ok = self._healthy()
            self._reply(200 if ok else 503, "text/plain", b"ok\n" if ok else b"unhealthy\n")
        else:
            self._reply(404, "text/plain", b"not found: try /metrics or /healthz\n")

    def _healthy(self) -> bool:
        try:
            return bool(self.server.health())
        except Exception:  # a raising health callback is reported as unhealthy
            return False

    def _reply(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""
