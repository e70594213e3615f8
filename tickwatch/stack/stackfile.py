"""``<state_dir>/stack.json``: what the local stack runs, where it listens, which pid, which log.

Shape: ``{component: {address fields..., "pid": int | null, "log": str | null,
"external": bool}}`` for the components ``clickhouse``, ``kafka``, ``prometheus`` and ``smtp``.
``external`` components were given in the settings and are used, never started or stopped.
``tickwatch stack down`` keeps the file with ``pid`` null so the next ``up`` reuses the ports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tickwatch.endpoints import LocalAddresses
from tickwatch.stack.errors import StackError

FILE_NAME = "stack.json"
COMPONENTS = ("clickhouse", "kafka", "prometheus", "smtp", "s3")

Record = dict[str, Any]  # the same shape as tickwatch.endpoints.Record


def path_in(state_dir: Path) -> Path:
    """Where the stack file of ``state_dir`` lives."""
    return state_dir / FILE_NAME


def read(state_dir: Path) -> dict[str, Record]:
    """The recorded components (empty when there is no file).

    Raises :class:`StackError` when the file exists but is not a JSON object of objects.
    """
    path = path_in(state_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StackError(
            f"{path} is unreadable ({exc}); delete it and run `tickwatch stack up`"
        ) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise StackError(f"{path} is not a stack file; delete it and run `tickwatch stack up`")
    return data


def local_addresses(state_dir: Path) -> LocalAddresses:
    """The endpoint fallback the CLI gives the workers: this state dir's stack file, read lazily."""
    return LocalAddresses(str(path_in(state_dir)), lambda: read(state_dir))


def write(state_dir: Path, records: dict[str, Record]) -> Path:
    """Replace the stack file atomically (write a temporary file, then rename)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = path_in(state_dir)
    partial = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    partial.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)
    return path
