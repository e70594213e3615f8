"""A TLS-terminating TCP proxy on loopback, in front of the local ClickHouse's HTTP port.

The chdb-core engine cannot serve HTTPS: ``SYSTEM START LISTEN HTTPS`` is refused
("clickhouse-local supports only TCP and HTTP listeners"). So ``https://`` to the local stack is
this proxy: it accepts TLS (certificate signed by the run's CA, see
:func:`tickwatch.stack.kafka_tls.issue_server_cert`) on 127.0.0.1 and forwards the decrypted bytes
to the plain HTTP port, like a TLS sidecar or load balancer in front of a server. Clients see a
real TLS endpoint and verify it with a CA bundle (``TICKWATCH_CLICKHOUSE_CA_CERT``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from pathlib import Path

from tickwatch.stack.net import LOOPBACK, free_port

_CHUNK = 65536


class TlsProxy:
    """Accept TLS on ``port`` (0 = a free one) and relay to ``127.0.0.1:backend_port``.

    :meth:`start` blocks until listening; :meth:`stop` closes the listener and every relay.
    """

    def __init__(self, backend_port: int, cert: Path, key: Path, *, port: int = 0) -> None:
        self.backend_port = backend_port
        self.port = port or free_port()
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._context.load_cert_chain(cert, key)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="tls-proxy", daemon=True
        )
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return f"https://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(timeout=10)

    def stop(self) -> None:
        if self._server is not None:
            server = self._server
            self._loop.call_soon_threadsafe(server.close)
            self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._relay, LOOPBACK, self.port, ssl=self._context)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            backend_r, backend_w = await asyncio.open_connection(LOOPBACK, self.backend_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pipe(client_r, backend_w), _pipe(backend_r, client_w))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF or an error, then close the writing side."""
    with contextlib.suppress(OSError, ssl.SSLError, asyncio.IncompleteReadError):
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError, ssl.SSLError):
        writer.close()
