"""The child side of :mod:`tickwatch.stack.clickhouse_server`: the serving process itself.

Loads the ClickHouse engine from the chdb-core wheel without ``import chdb``, writes
``config.xml`` into the run directory (the working directory), and runs the one blocking
query that starts the HTTP and native listeners. See the server module for the whole story.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import importlib.util
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType

import httpx

from tickwatch.stack.errors import StackError
from tickwatch.stack.net import LOOPBACK, port_in_use

# Each server is its own engine, so a fixed marker cannot match another server's query; it only
# has to be text no user query contains.
MARKER = "tickwatch-clickhouse-serve-forever"
EXIT_PORT_IN_USE = 3
_RTLD_DEEPBIND = 0x8
_SERVE_SQL = (
    "SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; "
    f"SELECT sleepEachRow(1) /* {MARKER} */ FROM numbers(1000000000) "
    "SETTINGS max_block_size=1 FORMAT Null"
)
_KILL_SQL = f"KILL QUERY WHERE query LIKE '%{MARKER}%' AND query NOT LIKE '%KILL%' SYNC"
# What the server does on its own when the feed is quiet (issue 18). The embedded engine has no
# system log tables unless configured (none are: nothing in tickwatch reads them, see
# clickhouse/config.d/quiet.xml, which removes them from compose's official server); the one
# periodic job left to slow down is system.asynchronous_metrics, recomputed every second by
# default although nothing here reads or scrapes it. Same value as quiet.xml (a test checks).
# Measured on the engine at idle with 30 tables: ~0.6 % of one core with either period; the
# server's cost in the idle bench is its INSERTs and merges, not its own jobs.
QUIET_CONFIG = "<asynchronous_metrics_update_period_s>60</asynchronous_metrics_update_period_s>"
# Small parts in one file (issue 18; same value as clickhouse/config.d/small_parts.xml, a test
# checks). Every INSERT writes a part into its table and into each materialized view's target,
# and a Compact part is a directory of about 13 files (data, marks, primary index, checksums,
# columns, count, partition, min-max index, TTL, ...); a merge writes one more and deletes its
# sources. Measured at 200 ticks/s in the idle bench's window (perf, per-thread CPU): creating
# those files (ext4 inode allocation inside openat) was about 40 % of the server's CPU in the
# first minute after the databases were created, much less once the disk had settled; in
# back-to-back runs Packed parts halved the server's CPU in that window. A part smaller than this
# (uncompressed; the Compact/Wide cut-over of min_bytes_for_wide_part) is written "Packed"
# instead: its files in one data.packed archive. Larger parts, e.g. merges of a busy day, stay
# "Full" (a file per column or stream) as before.
SMALL_PARTS_BYTES = 10 * 1024 * 1024
SMALL_PARTS_CONFIG = (
    "<merge_tree><min_bytes_for_full_part_storage>"
    f"{SMALL_PARTS_BYTES}</min_bytes_for_full_part_storage></merge_tree>"
)


def config_xml(
    http_port: int, tcp_port: int, users_file: Path | None = None, extra: str = ""
) -> str:
    """The server configuration read by the embedded engine from ``./config.xml``.

    With ``users_file`` the engine takes its users (passwords, grants, profiles) from that
    ``users.xml``; without it, clickhouse-local's built-in password-less ``default`` user.
    ``extra`` is XML placed inside ``<clickhouse>`` as is (``<remote_servers>``, ``<macros>``).
    :data:`QUIET_CONFIG` and :data:`SMALL_PARTS_CONFIG` are always there.
    """
    users = ""
    if users_file is not None:
        users = (
            f"<user_directories><users_xml><path>{users_file}</path></users_xml></user_directories>"
        )
    return (
        f"<clickhouse><listen_host>{LOOPBACK}</listen_host>"
        f"<http_port>{http_port}</http_port><tcp_port>{tcp_port}</tcp_port>"
        f"{QUIET_CONFIG}{SMALL_PARTS_CONFIG}"
        f"{users}{extra}"
        "</clickhouse>\n"
    )


def http_url(http_port: int) -> str:
    """The HTTP endpoint of a server listening on ``http_port``."""
    return f"http://{LOOPBACK}:{http_port}"


def is_ready(url: str, timeout_s: float = 2.0) -> bool:
    """True when ``SELECT 1`` over HTTP at ``url`` answers ``1``; never raises."""
    try:
        response = httpx.post(url, content=b"SELECT 1", timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and response.text.strip() == "1"


def request_stop(url: str, timeout_s: float = 10.0) -> bool:
    """Kill the serving query over HTTP so the server process exits; False if it did not answer."""
    try:
        response = httpx.post(url, content=_KILL_SQL.encode(), timeout=timeout_s)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def load_engine() -> ModuleType:
    """Load ``chdb/_chdb*.so`` without executing ``chdb/__init__.py``.

    Raises :class:`StackError` if the chdb-core wheel is not installed.
    """
    spec = importlib.util.find_spec("chdb")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the chdb-core wheel is not installed in this Python environment")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    library = next(package_dir.glob("_chdb*.so"), None)
    if library is None:
        raise StackError(f"no _chdb*.so extension in {package_dir}")
    # Same as chdb/__init__: resolve its bundled dependencies from its own folder, bind deeply so
    # its allocator is used for its own objects.
    previous = Path.cwd()
    os.chdir(package_dir)
    try:
        ctypes.CDLL(str(library), mode=sys.getdlopenflags() | _RTLD_DEEPBIND)
        loader = importlib.machinery.ExtensionFileLoader("_chdb", str(library))
        module_spec = importlib.util.spec_from_file_location("_chdb", library, loader=loader)
        assert module_spec is not None
        module = importlib.util.module_from_spec(module_spec)
        loader.exec_module(module)
    finally:
        os.chdir(previous)
    return module


def serve(
    data_dir: Path,
    run_dir: Path,
    http_port: int,
    tcp_port: int,
    users_file: Path | None = None,
    *,
    extra_config: str = "",
) -> int:
    """Serve until the marker query is killed or SIGTERM arrives; blocks. Returns an exit code.

    Exit code 3 means one of the ports was taken (checked first, and again if binding fails).
    """
    for port in (http_port, tcp_port):
        if port_in_use(port):
            print(f"clickhouse: port {LOOPBACK}:{port} is already in use", file=sys.stderr)
            return EXIT_PORT_IN_USE
    engine = load_engine()
    data_dir.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = config_xml(http_port, tcp_port, users_file, extra_config)
    (run_dir / "config.xml").write_text(config, encoding="utf-8")
    os.chdir(run_dir)
    errors: list[BaseException] = []
    worker = threading.Thread(
        target=_run_query, args=(engine, str(data_dir), errors), name="clickhouse-serve"
    )
    worker.start()
    signal.signal(signal.SIGTERM, _stop_handler(http_url(http_port)))
    print(f"clickhouse: serving {http_url(http_port)} (native port {tcp_port})", flush=True)
    while worker.is_alive():
        worker.join(0.5)
    return _exit_code(errors)


def _run_query(engine: ModuleType, data_dir: str, errors: list[BaseException]) -> None:
    try:
        engine.query(_SERVE_SQL, "TabSeparated", path=data_dir)
    except Exception as exc:  # reported by the main thread as the exit code
        errors.append(exc)


def _exit_code(errors: list[BaseException]) -> int:
    if not errors:
        print("clickhouse: stopped", flush=True)
        return 0
    message = str(errors[0])
    print(f"clickhouse: serving query failed: {message}", file=sys.stderr, flush=True)
    if "Address already in use" in message or "NETWORK_ERROR" in message:
        return EXIT_PORT_IN_USE
    return 1


def _stop_handler(url: str) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        if not request_stop(url):
            os._exit(128 + signum)  # not serving yet: nothing to flush

    return handle
