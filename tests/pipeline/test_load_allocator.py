"""The load worker's allocators (issue 14, peak RSS): set first thing at start-up, as configured."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from pipeline.errors import FatalError
from pipeline.load import allocator
from pipeline.load.allocator import M_ARENA_MAX, configure
from pipeline.load_cli import EXIT_FATAL, EXIT_UNREACHABLE, run_load
from tests.pipeline.test_load_cli import unreachable
from tickwatch.settings import ConfigError, LoadSettings, load_settings


class RecordingMallopt:
    """Stands in for glibc's mallopt: records each call and the process's thread count then."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []
        self.threads_at_call: list[int] = []

    def __call__(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        self.threads_at_call.append(_threads())
        return 1


def _threads() -> int:
    """This process's threads, native ones (librdkafka's) included where /proc tells."""
    tasks = Path("/proc/self/task")
    return sum(1 for _ in tasks.iterdir()) if tasks.is_dir() else threading.active_count()


@pytest.fixture(autouse=True)
def _restore_arrow_pool() -> Iterator[None]:
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_defaults_cap_the_arenas_at_two_and_use_jemalloc() -> None:
    mallopt = RecordingMallopt()
    choice = configure(LoadSettings(), mallopt)
    assert mallopt.calls == [(M_ARENA_MAX, 2)]
    assert choice.arena_max_applied
    assert pa.default_memory_pool().backend_name == "jemalloc"


@pytest.mark.parametrize("pool", ["system", "jemalloc", "mimalloc"])
def test_the_configured_pool_becomes_arrow_s_default(pool: str) -> None:
    configure(LoadSettings(arrow_memory_pool=pool), RecordingMallopt())
    assert pa.default_memory_pool().backend_name == pool
    assert pa.array([1.5, 2.5]).sum().as_py() == 4.0  # allocates from it


def test_zero_leaves_glibc_s_arenas_alone() -> None:
    mallopt = RecordingMallopt()
    assert not configure(LoadSettings(malloc_arena_max=0), mallopt).arena_max_applied
    assert mallopt.calls == []


def test_glibc_s_own_mallopt_accepts_the_cap() -> None:
    """On this (glibc) machine the real call succeeds; elsewhere it is skipped, not an error."""
    call = allocator._glibc_mallopt()
    if call is None:
        pytest.skip("not glibc")
    assert call(M_ARENA_MAX, 2) == 1


def test_a_missing_pool_stops_the_worker_naming_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> pa.MemoryPool:
        raise NotImplementedError("jemalloc support is not built")

    monkeypatch.setattr(pa, "jemalloc_memory_pool", missing)
    with pytest.raises(FatalError, match=r"load\.arrow_memory_pool = 'jemalloc'"):
        configure(LoadSettings(), RecordingMallopt())
    assert run_load(unreachable()) == EXIT_FATAL


def test_start_up_caps_the_arenas_before_it_starts_any_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """run_load applies the setting first: when mallopt is called the process has no thread
    more than before run_load (logging, telemetry and the clients start theirs later)."""
    mallopt = RecordingMallopt()
    monkeypatch.setattr(allocator, "_glibc_mallopt", lambda: mallopt)
    before = _threads()
    assert run_load(unreachable()) == EXIT_UNREACHABLE
    assert mallopt.calls == [(M_ARENA_MAX, 2)]
    assert mallopt.threads_at_call == [before]
    assert pa.default_memory_pool().backend_name == "jemalloc"


@pytest.mark.parametrize(
    ("key", "value"),
    [("malloc_arena_max", -1), ("malloc_arena_max", 5_000), ("arrow_memory_pool", "tcmalloc")],
)
def test_bad_values_stop_at_start_up_naming_the_key(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=key):
        load_settings(_env_file=None, load={key: value})
