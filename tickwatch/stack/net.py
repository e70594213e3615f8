"""Loopback ports and bounded waiting, shared by the stack components."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from tickwatch.stack.errors import PortInUseError

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True when ``host:port`` cannot be bound because another socket holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def reusable(port: object) -> int:
    """``port`` if it is a port number that is free right now, else 0 (= "pick a new one")."""
    if not isinstance(port, int) or not 0 < port < 65536:
        return 0
    return 0 if port_in_use(port) else port


def ensure_port_free(port: int, what: str) -> None:
    """Raise :class:`PortInUseError` naming ``what`` if ``port`` on 127.0.0.1 is taken."""
    if port_in_use(port):
        raise PortInUseError(
            f"{what}: port {LOOPBACK}:{port} is already in use by another process; "
            "stop that process or choose another port"
        )


def accepts_connections(port: int, host: str = LOOPBACK, timeout_s: float = 0.5) -> bool:
    """True when a TCP connection to ``host:port`` succeeds within ``timeout_s``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    """Poll ``condition`` until it returns True or ``timeout_s`` passes; blocks at most that long.

    Returns whether the condition was met. Exceptions raised by ``condition`` propagate.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
