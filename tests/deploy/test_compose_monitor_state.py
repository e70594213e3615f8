"""The detector's state dir survives ``docker compose up -d --build`` and down/up (issue 12 #10).

Structural, offline: the monitor's ``stack.state_dir`` (open alerts, held and unsent email, CLI
silences) lies on a named volume declared at the top level, and the image creates the mount
point owned by the unprivileged user, so a fresh named volume is writable by it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import yaml

from .grafana_model import REPO

COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))
MONITOR: dict[str, Any] = COMPOSE["services"]["monitor"]


def _named_mounts(service: dict[str, Any]) -> dict[str, PurePosixPath]:
    """Named-volume mounts of ``service`` (short syntax ``name:/path[:mode]`` or long syntax)."""
    out = {}
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            source, _, rest = entry.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = entry.get("source", ""), entry.get("target", "")
        if source and not source.startswith((".", "/", "~")):
            out[source] = PurePosixPath(target)
    return out


def test_monitor_state_dir_is_on_a_declared_named_volume() -> None:
    state_dir = PurePosixPath(MONITOR["environment"]["TICKWATCH_STACK_STATE_DIR"])
    mounts = _named_mounts(MONITOR)
    holding = [name for name, target in mounts.items() if state_dir.is_relative_to(target)]
    assert holding, f"monitor state dir {state_dir} is inside the container: mounts {mounts}"
    assert all(name in (COMPOSE.get("volumes") or {}) for name in holding)


def test_image_creates_the_volume_mount_point_for_the_unprivileged_user() -> None:
    state_dir = PurePosixPath(MONITOR["environment"]["TICKWATCH_STACK_STATE_DIR"])
    (name,) = [n for n, t in _named_mounts(MONITOR).items() if state_dir.is_relative_to(t)]
    target = _named_mounts(MONITOR)[name]
    dockerfile = (REPO / "Dockerfile").read_text("utf-8")
    assert f"install -d -o tickwatch -g tickwatch {target}" in dockerfile
