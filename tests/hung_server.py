"""A TCP proxy on 127.0.0.1 that can make the server behind it *hang*: while ``hung`` is set it
accepts connections and reads what clients send, but forwards nothing and answers nothing — a
server that is up as far as TCP goes and never responds (a stopped process, a stuck disk).

Reusable by any test or fault run that needs a hung ClickHouse: point the client at
:attr:`HangingProxy.url` instead of the server's. ``target_port=None`` makes a listener that
never answers at all. Threads are daemons; :meth:`close` stops accepting and closes sockets.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class HangingProxy:
    def __init__(self, target_port: int | None) -> None:
        self._target = target_port
        self.hung = threading.Event()
        if target_port is None:
            self.hung.set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = [self._listener]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            upstream = None
            if self._target is not None and not self.hung.is_set():
                upstream = socket.create_connection(("127.0.0.1", self._target))
                self._sockets.append(upstream)
                threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket | None) -> None:
        """Copy ``source`` to ``sink`` until either closes; while hung, swallow instead."""
        while not self._closed:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if sink is not None and not self.hung.is_set():
                try:
                    sink.sendall(data)
                except OSError:
                    return
