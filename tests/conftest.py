"""The test harness: one real Kafka and one real ClickHouse per session, isolated per test.

* Session fixtures ``kafka_bootstrap`` / ``clickhouse_url`` start a broker and a server in a
  temporary state directory the first time a test asks for them (a pure unit run starts
  nothing). ``TICKWATCH_TEST_KAFKA_BOOTSTRAP`` / ``TICKWATCH_TEST_CLICKHOUSE_URL`` reuse
  running ones instead.
* Function fixtures give each test its own databases (migrated), topics and consumer group, so
  tests share the servers without seeing each other's data.
* A test that reaches the harness's Kafka or ClickHouse without the ``kafka`` / ``clickhouse``
  marker fails, naming the marker to add.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from clickhouse_connect.driver.client import Client as ClickHouseClient

from tickwatch.settings import (
    ArchiveSettings,
    ClickHouseSettings,
    KafkaSettings,
    Settings,
    StackSettings,
)

pytest_plugins = ["pytester"]  # tests of the harness run inner pytest sessions

KAFKA_ENV = "TICKWATCH_TEST_KAFKA_BOOTSTRAP"
CLICKHOUSE_ENV = "TICKWATCH_TEST_CLICKHOUSE_URL"
S3_ENV = "TICKWATCH_TEST_S3_ENDPOINT"
S3_BUCKET = "tickwatch-test"
READY_TIMEOUT_S = 180.0
TEST_PARTITIONS = 3
PROMETHEUS_HINT = (
    "the `prometheus` binary is missing: install it with `apt-get install prometheus` "
    "(`make` does this when run as root)"
)

# port -> marker a test needs before it may connect there; filled as services become known
_GUARDED_PORTS: dict[int, str] = {}


def _guard(address: str, marker: str) -> None:
    """Register the port of ``address`` (``host:port`` or a URL) as belonging to ``marker``."""
    parsed = urlparse(address if "://" in address else f"tcp://{address.split(',', maxsplit=1)[0]}")
    if parsed.port:
        _GUARDED_PORTS[parsed.port] = marker


for _variable, _marker in ((KAFKA_ENV, "kafka"), (CLICKHOUSE_ENV, "clickhouse"), (S3_ENV, "s3")):
    if os.environ.get(_variable):
        _guard(os.environ[_variable], _marker)


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------ session services


@pytest.fixture(scope="session")
def harness_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """State directory of the session's own Kafka and ClickHouse."""
    return tmp_path_factory.mktemp("harness")


@pytest.fixture(scope="session")
def kafka_bootstrap(harness_dir: Path) -> Iterator[str]:
    """Bootstrap address of the session's Kafka broker (started on first use, or from env)."""
    external = os.environ.get(KAFKA_ENV, "")
    if external:
        yield external
        return
    from tickwatch.stack.kafka_broker import KafkaBroker

    shared_libs = Path(tempfile.gettempdir()) / "tickwatch-kafka-libs"  # jars, shared by runs
    libs = Path(os.environ.get("TICKWATCH_TEST_KAFKA_LIBS", str(shared_libs)))
    broker = KafkaBroker(harness_dir / "kafka", libs_dir=libs, ready_timeout_s=READY_TIMEOUT_S)
    broker.start()
    _guard(broker.bootstrap, "kafka")
    _guard(f"127.0.0.1:{broker.controller_port}", "kafka")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def clickhouse_url(harness_dir: Path) -> Iterator[str]:
    """HTTP URL of the session's ClickHouse server (started on first use, or from env)."""
    external = os.environ.get(CLICKHOUSE_ENV, "")
    if external:
        yield external
        return
    from tickwatch.stack.clickhouse_server import ClickHouseServer

    base = harness_dir / "clickhouse"
    server = ClickHouseServer(base / "data", base / "run", ready_timeout_s=READY_TIMEOUT_S)
    server.start()
    _guard(server.url, "clickhouse")
    _guard(f"127.0.0.1:{server.tcp_port}", "clickhouse")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_endpoint(harness_dir: Path) -> Iterator[str]:
    """Endpoint of the session's S3 server (gofakes3, bucket ``S3_BUCKET``), or from env.

    The binary is built once with ``go install`` into a cache shared by runs
    (``TICKWATCH_TEST_S3_BIN`` overrides the directory).
    """
    external = os.environ.get(S3_ENV, "")
    if external:
        yield external
        return
    from tickwatch.stack.s3_server import S3Server, ensure_binary

    cache = Path(tempfile.gettempdir()) / "tickwatch-s3-bin"
    binary = ensure_binary(Path(os.environ.get("TICKWATCH_TEST_S3_BIN", str(cache))))
    server = S3Server(binary, harness_dir / "s3", S3_BUCKET, ready_timeout_s=READY_TIMEOUT_S)
    server.start()
    _guard(server.endpoint, "s3")
    try:
        yield server.endpoint
    finally:
        server.stop()


# ------------------------------------------------------------------ per-test isolation


@pytest.fixture
def ch_settings(clickhouse_url: str) -> Iterator[ClickHouseSettings]:
    """ClickHouse settings with this test's own ``market_*`` / ``ops_*`` databases, migrated.

    The databases are dropped after the test.
    """
    from tickwatch import migrations
    from tickwatch.clients import clickhouse_client

    suffix = uuid.uuid4().hex[:10]
    settings = ClickHouseSettings(
        url=clickhouse_url, market_database=f"market_{suffix}", ops_database=f"ops_{suffix}"
    )
    admin = clickhouse_client(settings, clickhouse_url)
    try:
        migrations.apply(admin, settings)
        yield settings
    finally:
        for database in (settings.market_database, settings.ops_database):
            admin.command(f"DROP DATABASE IF EXISTS {database} SYNC")
        admin.close()


@pytest.fixture
def ch_client(ch_settings: ClickHouseSettings) -> Iterator[ClickHouseClient]:
    """A clickhouse-connect client on this test's market database (ops tables: qualify names)."""
    from tickwatch.clients import clickhouse_client

    client = clickhouse_client(ch_settings, ch_settings.url, database=ch_settings.market_database)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def archive_settings(s3_endpoint: str) -> ArchiveSettings:
    """Archive settings on the session's S3 server with this test's own key prefix."""
    return ArchiveSettings(endpoint=s3_endpoint, bucket=S3_BUCKET, prefix=_unique("archive"))


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> Iterator[KafkaSettings]:
    """Kafka settings with this test's own topics (created, 3 partitions) and consumer group.

    The topics are deleted after the test.
    """
    from tickwatch.topics import create_pipeline_topics, delete_topics, pipeline_topics

    prefix = _unique("t")
    settings = KafkaSettings(
        bootstrap=kafka_bootstrap,
        topic_trades=f"{prefix}.trades",
        topic_quotes=f"{prefix}.quotes",
        topic_bars=f"{prefix}.bars",
        topic_corrections=f"{prefix}.corrections",
        topic_dlq=f"{prefix}.dlq",
        partitions=TEST_PARTITIONS,
        consumer_group=_unique("g"),
    )
    create_pipeline_topics(settings, kafka_bootstrap)
    try:
        yield settings
    finally:
        delete_topics(settings.client_config(kafka_bootstrap), pipeline_topics(settings))


def _clear_tickwatch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TICKWATCH_") and not name.startswith("TICKWATCH_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ``TICKWATCH_*`` variables (harness ones aside) and an empty working directory (no
    ``.env``), so settings built in the test see only what the test gives them."""
    _clear_tickwatch_env(monkeypatch)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


@pytest.fixture
def settings(
    kafka_settings: KafkaSettings,
    ch_settings: ClickHouseSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    """Full settings pointed at the harness; the environment and ``.env`` are ignored.

    SMTP keeps its defaults (no host): tests that send mail start ``smtp_server`` and use
    ``settings.model_copy(update={"smtp": SmtpSettings(host=server.host, port=server.port)})``.
    """
    _clear_tickwatch_env(monkeypatch)
    return Settings(
        _env_file=None,
        stack=StackSettings(state_dir=tmp_path / "state"),
        kafka=kafka_settings,
        clickhouse=ch_settings,
    )


# ------------------------------------------------------------------ SMTP and Prometheus


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory: ``smtp_server(starttls=False, auth=None)`` -> a running in-process SMTP server.

    ``auth`` is ``(user, password)`` or None. The server has ``.host``, ``.port``,
    ``.messages()``, ``.stop()`` and ``.start()``; every one started here is stopped after.
    """
    from tickwatch.stack.mailserver import MailServer

    started: list[MailServer] = []

    def start(*, starttls: bool = False, auth: tuple[str, str] | None = None) -> MailServer:
        index = len(started)
        server = MailServer(
            tmp_path / f"smtp{index}" / "mail",
            starttls=starttls,
            auth=auth,
            cert_dir=tmp_path / f"smtp{index}" / "tls",
        )
        server.start()
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def prometheus_binary() -> Path:
    """Path of Debian's ``prometheus``; the test FAILS (not skips) when it is not installed."""
    found = shutil.which("prometheus")
    if found is None:
        pytest.fail(PROMETHEUS_HINT, pytrace=False)
    return Path(found)


# ------------------------------------------------------------------ the guard


@pytest.fixture(autouse=True)
def _real_service_guard(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Fail an unmarked test that connects to the harness's Kafka, ClickHouse or S3 ports.

    Python sockets (HTTP clients) are checked at ``connect``; librdkafka connects from C, so
    Kafka clients built in Python are checked on their ``bootstrap.servers`` instead.
    """
    allowed = {m for m in ("kafka", "clickhouse", "s3") if request.node.get_closest_marker(m)}
    violations: list[str] = []

    def check(port: int | None, what: str) -> None:
        marker = _GUARDED_PORTS.get(port or -1)
        if marker and marker not in allowed:
            message = (
                f"{request.node.nodeid} reached the harness's {marker} ({what}) without the "
                f"`{marker}` marker: add @pytest.mark.{marker} to the test"
            )
            if threading.current_thread() is not threading.main_thread():
                violations.append(message)  # a failure raised in a thread would be lost
            pytest.fail(message, pytrace=False)

    _patch_sockets(monkeypatch, check)
    _patch_kafka_clients(monkeypatch, check)
    yield
    if violations:
        pytest.fail(violations[0], pytrace=False)


def _patch_sockets(
    monkeypatch: pytest.MonkeyPatch, check: Callable[[int | None, str], None]
) -> None:
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def port_of(address: Any) -> int | None:
        if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[1], int):
            return address[1]
        return None

    def connect(self: socket.socket, address: Any) -> None:
        check(port_of(address), f"socket connect to {address!r}")
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(port_of(address), f"socket connect to {address!r}")
        return original_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


_PROJECT_PACKAGES = ("tickwatch", "pipeline", "monitor", "alerts", "bench", "tests", "conftest")


def _patch_kafka_clients(
    monkeypatch: pytest.MonkeyPatch, check: Callable[[int | None, str], None]
) -> None:
    """Replace the confluent-kafka client classes wherever project modules bound them.

    Covers ``confluent_kafka.Producer`` / ``Consumer`` and names imported into project modules;
    an ``AdminClient`` imported from ``confluent_kafka.admin`` inside a function is not seen.
    """
    if "confluent_kafka" not in sys.modules or not _GUARDED_PORTS:
        return
    import confluent_kafka
    from confluent_kafka.admin import AdminClient

    originals = (confluent_kafka.Producer, confluent_kafka.Consumer, AdminClient)
    checked = {cls: _checked_kafka_class(cls, check) for cls in originals}
    # not confluent_kafka.admin itself: AdminClient.__init__ looks its own name up there
    modules = [sys.modules.get("confluent_kafka")]
    modules += [m for n, m in list(sys.modules.items()) if n.split(".")[0] in _PROJECT_PACKAGES]
    for module in modules:
        for name, value in list(vars(module).items()) if module is not None else []:
            if isinstance(value, type) and value in checked:
                monkeypatch.setattr(module, name, checked[value])


def _checked_kafka_class(cls: type[Any], check: Callable[[int | None, str], None]) -> type[Any]:
    """A subclass of ``cls`` that checks ``bootstrap.servers`` before connecting."""

    class Checked(cls):  # type: ignore[misc]  # base class chosen at run time
        def __init__(self, config: dict[str, Any] | None = None, **kwargs: Any) -> None:
            servers = str((config or {}).get("bootstrap.servers", ""))
            for server in filter(None, servers.split(",")):
                check(urlparse(f"tcp://{server.strip()}").port, f"{cls.__name__} to {server}")
            if config is None:
                super().__init__(**kwargs)
            else:
                super().__init__(config, **kwargs)

    Checked.__name__ = Checked.__qualname__ = cls.__name__
    Checked.__module__ = cls.__module__
    return Checked
