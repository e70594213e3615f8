"""The load worker's allocators, set once at process start (issue 14: peak RSS).

Two allocators hold most of what the worker's resident memory adds beyond its live data:

* **glibc malloc arenas.** Every thread that allocates gets its own arena (up to 8 per core),
  and an arena keeps the heap it grew to. librdkafka's threads (broker, main, and those of the
  DLQ producer and the range reader) decode and queue fetched messages in theirs.
  ``load.malloc_arena_max`` caps them with ``mallopt(M_ARENA_MAX)``; it must run before any
  thread starts (an arena, once made, stays), so :func:`configure` is the first thing
  :func:`pipeline.load_cli.run_load` does. Not glibc (musl, macOS): the call is skipped.
* **Arrow's memory pool** (``load.arrow_memory_pool``). pyarrow's default, mimalloc, keeps freed
  pages for reuse: 41-66 MB of the worker's peak while Arrow's live bytes stayed below 20 MB
  (bench/README.md). ``jemalloc`` (the default) is given a decay of 0: freed pages are returned
  at once. The ``system`` pool allocates with glibc malloc, and its ``release_unused`` (called
  after every batch by :mod:`pipeline.load.insert`) is ``malloc_trim``: the same peak in the
  bench, fewer rows a second. A pyarrow build without jemalloc stops the worker at start-up
  naming the key (Linux wheels have it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from pipeline.errors import FatalError
from tickwatch.settings import LoadSettings

M_ARENA_MAX = -8  # glibc <malloc.h>


@dataclass(frozen=True, slots=True)
class AllocatorChoice:
    """What :func:`configure` applied: the arena cap (0 = glibc's own) and Arrow's pool."""

    arena_max: int
    arena_max_applied: bool
    arrow_pool: str


def configure(
    load: LoadSettings, mallopt: Callable[[int, int], int] | None = None
) -> AllocatorChoice:
    """Cap glibc's arenas and choose Arrow's default memory pool; call before any thread starts.

    ``mallopt`` is glibc's (found with ctypes) unless given. Raises :class:`FatalError` naming
    ``load.arrow_memory_pool`` when this pyarrow build lacks the chosen pool."""
    applied = False
    if load.malloc_arena_max:
        call = mallopt or _glibc_mallopt()
        applied = call is not None and call(M_ARENA_MAX, load.malloc_arena_max) == 1
    pa.set_memory_pool(_arrow_pool(load.arrow_memory_pool))
    return AllocatorChoice(load.malloc_arena_max, applied, load.arrow_memory_pool)


def _arrow_pool(name: str) -> pa.MemoryPool:
    try:
        if name == "jemalloc":
            pool = pa.jemalloc_memory_pool()
            pa.jemalloc_set_decay_ms(0)
            return pool
        if name == "mimalloc":
            return pa.mimalloc_memory_pool()
        return pa.system_memory_pool()
    except NotImplementedError as exc:
        raise FatalError(
            f"load.arrow_memory_pool = {name!r}: this pyarrow build has no such pool ({exc}); "
            f"use 'system'"
        ) from exc


def _glibc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt``, or None where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        call: Callable[[int, int], int] = libc.mallopt
    except (OSError, AttributeError):
        return None
    return call
