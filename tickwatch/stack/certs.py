"""A self-signed certificate for the local SMTP server's STARTTLS, made with the openssl CLI.

(The ``cryptography`` package is not a dependency of tickwatch, so the ``openssl`` program that
every Debian system has does the work.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tickwatch.stack.errors import StackError
from tickwatch.stack.process import require_tool

_OPENSSL_TIMEOUT_S = 60.0


def ensure_self_signed(cert_dir: Path, common_name: str = "localhost") -> tuple[Path, Path]:
    """``(cert.pem, key.pem)`` in ``cert_dir``, created once for localhost and 127.0.0.1.

    Blocks while openssl runs. Raises ``MissingToolError`` without ``openssl`` and
    :class:`StackError` if it fails. The key file is readable by its owner only.
    """
    cert, key = cert_dir / "cert.pem", cert_dir / "key.pem"
    if cert.is_file() and key.is_file():
        return cert, key
    openssl = require_tool("openssl", "install it (Debian: apt-get install openssl)")
    cert_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
        "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={common_name}",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]  # fmt: skip
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=_OPENSSL_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        raise StackError(f"creating a self-signed certificate failed:\n{done.stderr}")
    key.chmod(0o600)
    return cert, key
