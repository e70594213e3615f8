"""Per-run TLS material for a local Kafka broker: a private CA, the broker's keystore, a client.

Made with the JDK's ``keytool`` (the broker's PKCS12 keystore and truststore, and its certificate
request) and ``openssl`` (the CA, signing, the client's PEM certificate and key):

* ``ca.pem`` / ``ca-key.pem`` — a self-signed CA, valid 30 days, made for this state directory;
* ``broker.p12`` — the broker's key pair (CN=localhost, SAN localhost and 127.0.0.1) with the
  certificate the CA signed and the CA chain; ``truststore.p12`` — the CA, so the broker can
  verify client certificates on the mutual-TLS listener;
* ``client.pem`` / ``client-key.pem`` — a client certificate (CN=tickwatch-client) signed by
  the CA, for ``TICKWATCH_KAFKA_SSL_CERTIFICATE_LOCATION`` / ``..._SSL_KEY_LOCATION``;
* ``store-password`` — the random password of both stores (owner-readable only).

Everything is created once per directory and reused on restart.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tickwatch.stack.errors import StackError
from tickwatch.stack.process import require_tool

_TIMEOUT_S = 120.0
_DAYS = "30"
_SAN = "DNS:localhost,IP:127.0.0.1"
_KEYTOOL_HINT = "install a JDK (Debian: apt-get install openjdk-17-jdk-headless)"
_OPENSSL_HINT = "install it (Debian: apt-get install openssl)"


@dataclass(frozen=True)
class KafkaTlsMaterial:
    """Paths of the files above and the store password (a secret: never log it)."""

    directory: Path
    store_password: str

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def keystore(self) -> Path:
        return self.directory / "broker.p12"

    @property
    def truststore(self) -> Path:
        return self.directory / "truststore.p12"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client-key.pem"


def ensure_kafka_tls(directory: Path) -> KafkaTlsMaterial:
    """The material in ``directory``, created there first if missing. Blocks while tools run.

    Raises ``MissingToolError`` without ``keytool`` / ``openssl`` and :class:`StackError` (with
    the tool's output) when one fails.
    """
    directory = directory.resolve()
    password_file = directory / "store-password"
    if password_file.is_file():
        material = KafkaTlsMaterial(directory, password_file.read_text(encoding="utf-8"))
        if all(p.is_file() for p in _files(material)):
            return material
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    material = KafkaTlsMaterial(directory, secrets.token_urlsafe(18))
    password_file.write_text(material.store_password, encoding="utf-8")
    password_file.chmod(0o600)
    _make_ca(material)
    _make_broker_keystore(material)
    _make_client_cert(material)
    return material


def _files(material: KafkaTlsMaterial) -> list[Path]:
    return [
        material.ca_cert,
        material.keystore,
        material.truststore,
        material.client_cert,
        material.client_key,
    ]


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise StackError(f"{what} failed ({argv[0]}):\n{done.stdout}\n{done.stderr}")


def _openssl() -> str:
    return require_tool("openssl", _OPENSSL_HINT)


def _keytool() -> str:
    return require_tool("keytool", _KEYTOOL_HINT)


def _make_ca(m: KafkaTlsMaterial) -> None:
    key = m.directory / "ca-key.pem"
    argv = [
        _openssl(), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", _DAYS,
        "-keyout", str(key), "-out", str(m.ca_cert), "-subj", "/CN=tickwatch local CA",
    ]  # fmt: skip
    _run(argv, "creating the Kafka CA")
    key.chmod(0o600)


def _sign(m: KafkaTlsMaterial, csr: Path, out: Path) -> None:
    """Sign ``csr`` with the CA, adding the loopback subjectAltName."""
    extensions = m.directory / "san.cnf"
    extensions.write_text(f"subjectAltName={_SAN}\n", encoding="utf-8")
    argv = [
        _openssl(), "x509", "-req", "-in", str(csr), "-CA", str(m.ca_cert),
        "-CAkey", str(m.directory / "ca-key.pem"), "-CAcreateserial", "-days", _DAYS,
        "-sha256", "-out", str(out), "-extfile", str(extensions),
    ]  # fmt: skip
    _run(argv, f"signing {csr.name} with the Kafka CA")


def _make_broker_keystore(m: KafkaTlsMaterial) -> None:
    """keytool: key pair → certificate request → CA signs → CA chain and signed cert imported."""
    keytool, store = _keytool(), str(m.keystore)
    common = ["-storetype", "PKCS12", "-storepass", m.store_password, "-noprompt"]
    genkeypair = [
        keytool, "-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048",
        "-validity", _DAYS, "-dname", "CN=localhost", "-ext", f"SAN={_SAN.lower()}",
        "-keystore", store, "-keypass", m.store_password, *common,
    ]  # fmt: skip
    _run(genkeypair, "creating the broker key pair")
    csr = m.directory / "broker.csr"
    _run(
        [keytool, "-certreq", "-alias", "broker", "-file", str(csr), "-keystore", store, *common],
        "creating the broker certificate request",
    )
    signed = m.directory / "broker.pem"
    _sign(m, csr, signed)
    for alias, cert, target in (
        ("ca", m.ca_cert, store),
        ("broker", signed, store),
        ("ca", m.ca_cert, str(m.truststore)),
    ):
        _run(
            [keytool, "-importcert", "-alias", alias, "-file", str(cert), "-keystore", target,
             *common],
            f"importing {cert.name} into {Path(target).name}",
        )  # fmt: skip
    m.keystore.chmod(0o600)


def _make_client_cert(m: KafkaTlsMaterial) -> None:
    csr = m.directory / "client.csr"
    argv = [
        _openssl(), "req", "-new", "-newkey", "rsa:2048", "-nodes",
        "-keyout", str(m.client_key), "-out", str(csr), "-subj", "/CN=tickwatch-client",
    ]  # fmt: skip
    _run(argv, "creating the Kafka client key")
    m.client_key.chmod(0o600)
    _sign(m, csr, m.client_cert)


def issue_server_cert(m: KafkaTlsMaterial, name: str) -> tuple[Path, Path]:
    """``(name.pem, name-key.pem)``: a loopback server certificate signed by the run's CA.

    Used by the TLS front of the local ClickHouse (``tickwatch.stack.tls_proxy``). Created once.
    """
    cert, key = m.directory / f"{name}.pem", m.directory / f"{name}-key.pem"
    if cert.is_file() and key.is_file():
        return cert, key
    csr = m.directory / f"{name}.csr"
    argv = [
        _openssl(), "req", "-new", "-newkey", "rsa:2048", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost",
    ]  # fmt: skip
    _run(argv, f"creating the {name} key")
    key.chmod(0o600)
    _sign(m, csr, cert)
    return cert, key
